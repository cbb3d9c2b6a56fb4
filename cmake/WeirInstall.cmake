# WeirInstall.cmake - placeholder
