"""trainbus's C++ rules: the cc rules with the project's conventions filled in.

Every target gets TRAINBUS_COPTS; a target named `x` has `x.cc` (and a
library `x.h`) unless it says otherwise; tests are small and link
gtest_main; benchmarks are testonly, tagged and link Google Benchmark. A
BUILD file then states only what differs: sources that do not follow the
name, visibility and deps.
"""

load("//tools:copts.bzl", "TRAINBUS_COPTS")

GTEST = "//third_party:gtest"

GTEST_MAIN = "//third_party:gtest_main"

BENCHMARK = "//third_party:benchmark"

def tb_cc_library(name, srcs = None, hdrs = None, header_only = False, copts = TRAINBUS_COPTS, **kwargs):
    """A library of name.cc and name.h (only name.h with header_only)."""
    if srcs == None and not header_only:
        srcs = [name + ".cc"]
    if srcs:
        kwargs["srcs"] = srcs
    native.cc_library(
        name = name,
        hdrs = [name + ".h"] if hdrs == None else hdrs,
        copts = copts,
        **kwargs
    )

def tb_cc_test(name, srcs = None, deps = [], size = "small", runs = None, own_main = False, copts = TRAINBUS_COPTS, **kwargs):
    """A GoogleTest test of name.cc.

    runs: a binary the test starts; it gets the binary's path as its first
    argument, and so has its own main (GTEST instead of GTEST_MAIN).
    own_main: the test defines main() for another reason.
    """
    if runs != None:
        kwargs["args"] = ["$(rootpath %s)" % runs]
        kwargs["data"] = kwargs.get("data", []) + [runs]
        own_main = True
    native.cc_test(
        name = name,
        size = size,
        srcs = [name + ".cc"] if srcs == None else srcs,
        copts = copts,
        deps = deps + [GTEST if own_main else GTEST_MAIN],
        **kwargs
    )

def tb_cc_binary(name, srcs = None, copts = TRAINBUS_COPTS, **kwargs):
    """A program of name.cc."""
    native.cc_binary(
        name = name,
        srcs = [name + ".cc"] if srcs == None else srcs,
        copts = copts,
        **kwargs
    )

def tb_cc_benchmark(name, deps = [], framework = BENCHMARK, copts = TRAINBUS_COPTS, **kwargs):
    """A benchmark program of name.cc: testonly and tagged "benchmark" (the
    convention of docs/STYLE.md); `bazel run -c opt` it.

    framework: the benchmark library it links (BENCHMARK, benchmark_main,
    or None for a program that times itself).
    """
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = [name + ".cc"],
        copts = copts,
        tags = ["benchmark"],
        deps = deps + ([] if framework == None else [framework]),
        **kwargs
    )
