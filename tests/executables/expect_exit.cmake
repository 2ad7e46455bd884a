# Runs EXE with ARGS (a ;-list) through EMULATOR (may be empty) and checks its exit code and,
# when EXPECT_OUTPUT is set, that stdout+stderr contains it. Wine truncates exit codes to their
# low 8 bits, which is enough for Stockade's documented codes (all below 128).
execute_process(COMMAND ${EMULATOR} ${EXE} ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT "${rc}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECT_EXIT}\nstdout: ${out}\nstderr: ${err}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "output lacks '${EXPECT_OUTPUT}'\nstdout: ${out}\nstderr: ${err}")
endif()
message(STATUS "exit ${rc} as expected")
