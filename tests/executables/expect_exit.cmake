# Runs EXE with ARGS (a ;-list) through EMULATOR (may be empty) and checks its exit code and,
# when EXPECT_OUTPUT is set, that stdout+stderr contains it. Wine truncates exit codes to their
# low 8 bits, which is enough for Stockade's documented codes (all below 128).
execute_process(COMMAND ${EMULATOR} ${EXE} ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
# Under a loaded machine Wine occasionally fails to start a process at all: exit 1 within
# milliseconds and not a byte of output (seen once in 52 runs). Stockade never exits without
# saying why, so that signature is Wine's, not ours: start the executable once more.
if(EMULATOR AND NOT "${rc}" STREQUAL "${EXPECT_EXIT}" AND "${out}${err}" STREQUAL "")
  message(STATUS "Wine returned ${rc} with no output; starting the executable again")
  execute_process(COMMAND ${EMULATOR} ${EXE} ${ARGS}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
endif()
if(NOT "${rc}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECT_EXIT}\nstdout: ${out}\nstderr: ${err}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "output lacks '${EXPECT_OUTPUT}'\nstdout: ${out}\nstderr: ${err}")
endif()
message(STATUS "exit ${rc} as expected")
