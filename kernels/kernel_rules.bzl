"""One kernel, its test and its benchmark: op.h + op.cc, op_test.cc, op_benchmark.cc.

The project's rules (//tools:cc.bzl) with KERNEL_COPTS and the kernels'
visibility and test helpers.
"""

load("//tools:cc.bzl", "tb_cc_benchmark", "tb_cc_library", "tb_cc_test")
load("//tools:copts.bzl", "KERNEL_COPTS")

# Kernels are shared on purpose with the networks built on them and the
# training library; nothing else links them directly.
KERNEL_USERS = ["//kernels:__subpackages__", "//training:__pkg__"]

def kernel_library(name, deps = [], header_only = False):
    tb_cc_library(
        name = name,
        header_only = header_only,
        copts = KERNEL_COPTS,
        visibility = KERNEL_USERS,
        deps = deps,
    )

def kernel_test(name, deps = []):
    """name_test.cc against :name, with the per-target helpers of test_util.h."""
    tb_cc_test(
        name = name + "_test",
        size = "medium",
        copts = KERNEL_COPTS,
        deps = [":" + name] + ([] if name == "test_util" else [":test_util"]) + deps,
    )

def kernel_benchmark(name, deps = []):
    tb_cc_benchmark(
        name = name + "_benchmark",
        copts = KERNEL_COPTS,
        deps = deps,
    )
