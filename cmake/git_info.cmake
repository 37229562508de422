# Writes OUT (a header) with the source tree's git commit and whether it has
# uncommitted changes. Run at every build, so provenance never goes stale; the
# file is rewritten only when it changes, so nothing rebuilds needlessly.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse HEAD
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE failed ERROR_QUIET)
if(failed)
  set(commit "unknown")
  set(dirty "unknown")
else()
  execute_process(COMMAND git -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
    OUTPUT_VARIABLE changes ERROR_QUIET)
  if(changes STREQUAL "")
    set(dirty "false")
  else()
    set(dirty "true")
  endif()
endif()
set(text "#pragma once\n#define AUXGRID_GIT_COMMIT \"${commit}\"\n#define AUXGRID_GIT_DIRTY \"${dirty}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
