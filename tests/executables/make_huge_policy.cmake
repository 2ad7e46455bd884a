# Writes OUT: "version = 1\n" followed by 10 MiB of comment lines (10485772 bytes in all), a
# policy that is valid except for its size.
string(REPEAT "#" 1023 line)
string(REPEAT "${line}\n" 10240 body)
file(WRITE "${OUT}" "version = 1\n${body}")
file(SIZE "${OUT}" size)
if(NOT size EQUAL 10485772)
  message(FATAL_ERROR "${OUT} is ${size} bytes, expected 10485772")
endif()
