"""Compiler flags shared by lro-c's own C code."""

# Strict flags for code written here. Generated code gets GEN_COPTS.
LRO_COPTS = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-D_GNU_SOURCE",
]

GEN_COPTS = [
    "-std=c11",
    "-w",
]
