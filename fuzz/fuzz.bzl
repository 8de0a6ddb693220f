"""tb_cc_fuzz_test: one fuzz target, two ways to run it.

    tb_cc_fuzz_test(name = "filter", deps = ["//registry:filter"])

builds, from `filter_fuzzer.cc` (which defines LLVMFuzzerTestOneInput):
  :filter_fuzzer         under --config=fuzz a libFuzzer binary (clang,
                         -fsanitize=fuzzer,address,undefined); under the normal
                         build a program that runs the files it is given once
                         each, to reproduce a crash without clang.
  :filter_corpus_test    a gtest that feeds every file of corpus/filter/ to
                         the target, so `bazel test //...` keeps them fixed.
"""

load("//tools:cc.bzl", "GTEST", "tb_cc_binary", "tb_cc_library", "tb_cc_test")

def tb_cc_fuzz_test(name, src = None, deps = [], **kwargs):
    """src: the target's source when it is not name_fuzzer.cc (one source
    built several ways, told apart by local_defines in kwargs)."""
    lib = name + "_fuzz_target"
    corpus = native.package_name() + "/corpus/" + name
    tb_cc_library(
        name = lib,
        srcs = [src or name + "_fuzzer.cc"],
        hdrs = [],
        # LLVMFuzzerTestOneInput is referenced by no object of ours.
        alwayslink = True,
        deps = deps + ["//fuzz:fuzz_util"],
        **kwargs
    )
    tb_cc_binary(
        name = name + "_fuzzer",
        srcs = [],
        linkopts = select({
            "//fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = [lib] + select({
            "//fuzz:fuzzing": [],
            "//conditions:default": ["//fuzz:run_files_main"],
        }),
    )
    tb_cc_test(
        name = name + "_corpus_test",
        srcs = ["corpus_test.cc"],
        args = [corpus],
        data = native.glob(["corpus/" + name + "/*"]),
        own_main = True,
        deps = [lib, "//base:file"],
    )
