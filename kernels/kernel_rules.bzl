"""One kernel, its test and its benchmark: op.h + op.cc, op_test.cc, op_benchmark.cc."""

load("//tools:copts.bzl", "KERNEL_COPTS")

# Kernels are shared on purpose with the networks built on them and the
# training library; nothing else links them directly.
KERNEL_USERS = ["//kernels:__subpackages__", "//training:__pkg__"]

def kernel_library(name, deps = [], header_only = False):
    native.cc_library(
        name = name,
        srcs = [] if header_only else [name + ".cc"],
        hdrs = [name + ".h"],
        copts = KERNEL_COPTS,
        visibility = KERNEL_USERS,
        deps = deps,
    )

def kernel_test(name, deps = []):
    """name_test.cc against :name, with the per-target helpers of test_util.h."""
    native.cc_test(
        name = name + "_test",
        srcs = [name + "_test.cc"],
        copts = KERNEL_COPTS,
        deps = [":" + name, "//third_party:gtest_main"] +
               ([] if name == "test_util" else [":test_util"]) + deps,
    )

def kernel_benchmark(name, deps = []):
    native.cc_binary(
        name = name + "_benchmark",
        testonly = True,
        srcs = [name + "_benchmark.cc"],
        copts = KERNEL_COPTS,
        tags = ["benchmark"],
        deps = ["//third_party:benchmark"] + deps,
    )
