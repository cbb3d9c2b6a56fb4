# check.cmake - builds one layering probe and checks the outcome (tests/layering/CMakeLists.txt).
#   -DBUILD_DIR=... -DTARGET=... -DHEADER=... -DEXPECT=fail|build
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
# The compiler's own words for a header it cannot find (gcc and clang).
string(FIND "${out}" "${HEADER}: No such file or directory" missing_gcc)
string(FIND "${out}" "'${HEADER}' file not found" missing_clang)
if(EXPECT STREQUAL "build")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "layering: ${TARGET} should build (${HEADER} is in reach) but did not:\n${out}")
  endif()
  message("layering: ok: ${TARGET} builds: ${HEADER} is in reach, as it should be")
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "layering: side door open: ${TARGET} built, so ${HEADER} is in reach")
  endif()
  if(missing_gcc EQUAL -1 AND missing_clang EQUAL -1)
    message(FATAL_ERROR "layering: ${TARGET} failed, but not for want of ${HEADER}:\n${out}")
  endif()
  message("layering: ok: ${TARGET} cannot include ${HEADER}")
endif()
