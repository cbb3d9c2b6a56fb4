# WeirPython.cmake - find a Python interpreter that can import kconfiglib.
#
# Debian's python3-kconfiglib installs for /usr/bin/python3; a python3 earlier on PATH (pyenv and
# the like) usually cannot import it. Try the candidates in order and fail with a clear message.
function(weir_find_kconfig_python out)
  if(DEFINED WEIR_PYTHON AND WEIR_PYTHON)
    set(_cands "${WEIR_PYTHON}")
  else()
    find_program(_path_py NAMES python3 NO_CACHE)
    set(_cands /usr/bin/python3 ${_path_py})
  endif()
  foreach(py IN LISTS _cands)
    if(EXISTS "${py}")
      execute_process(COMMAND "${py}" -c "import kconfiglib"
                      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
      if(rc EQUAL 0)
        set(${out} "${py}" CACHE FILEPATH "Python interpreter with kconfiglib" FORCE)
        return()
      endif()
    endif()
  endforeach()
  message(FATAL_ERROR "weir: no Python interpreter can import kconfiglib (tried: ${_cands}). "
                      "Install it with 'apt-get install python3-kconfiglib' (or run tools/setup.sh), "
                      "or pass -DWEIR_PYTHON=/path/to/python3.")
endfunction()
