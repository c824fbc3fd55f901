"""A static probe built without the sanitizers of `--config=asan`.

The escape tests copy static probes into containers. gcc cannot link `-static` with
`-fsanitize=address`, and a probe has no use for them: this builds the probe under a transition
that drops the sanitizer flags from --copt and --linkopt, and exposes it under its own name.
Without --config=asan the flags are the same and so is the build.
"""

_COPT = "//command_line_option:copt"
_LINKOPT = "//command_line_option:linkopt"

def _is_sanitizer_flag(flag):
    return "sanitize" in flag or flag in ["-lasan", "-lubsan", "-Wl,--push-state,--no-as-needed", "-Wl,--pop-state"]

def _without_sanitizers_impl(settings, attr):
    return {
        _COPT: [f for f in settings[_COPT] if not _is_sanitizer_flag(f)],
        _LINKOPT: [f for f in settings[_LINKOPT] if not _is_sanitizer_flag(f)],
    }

_without_sanitizers = transition(
    implementation = _without_sanitizers_impl,
    inputs = [_COPT, _LINKOPT],
    outputs = [_COPT, _LINKOPT],
)

def _uninstrumented_binary_impl(ctx):
    binary = ctx.attr.binary[0][DefaultInfo].files_to_run.executable
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = out, target_file = binary, is_executable = True)
    return [DefaultInfo(files = depset([out]), executable = out, runfiles = ctx.runfiles(files = [out]))]

uninstrumented_binary = rule(
    implementation = _uninstrumented_binary_impl,
    attrs = {
        "binary": attr.label(cfg = _without_sanitizers, executable = True, mandatory = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
    executable = True,
)

def static_probe(name, srcs, **kwargs):
    """A static cc_binary `name`, free of sanitizers (see above)."""
    native.cc_binary(
        name = name + "_instrumentable",
        srcs = srcs,
        linkopts = ["-static"],
        # Built only through the wrapper: as a target of its own under --config=asan, it would
        # be linked with the sanitizers.
        tags = ["manual"],
        visibility = ["//visibility:private"],
        **kwargs
    )
    uninstrumented_binary(
        name = name,
        binary = ":" + name + "_instrumentable",
        visibility = ["//visibility:public"],
    )
