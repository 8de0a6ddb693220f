"""Shared compiler options for trainbus's own code."""

# Warnings are errors in our code only; third-party headers come from
# /usr/include, which gcc treats as system headers (no warnings there).
TRAINBUS_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
]

# Kernels: optimisation is on even in fastbuild so tests of the SIMD paths
# run at useful speed; Highway picks the target at run time.
KERNEL_COPTS = TRAINBUS_COPTS + [
    "-O2",
]
