"""Collects the static archives lro-c's own cc_library targets produced, so
that tools/dist/mkdist.sh can merge them into one liblro.a."""

def _lro_archives_impl(ctx):
    seen = {}
    archives = []
    for dep in ctx.attr.deps:
        for li in dep[CcInfo].linking_context.linker_inputs.to_list():
            own = li.owner == dep.label
            if (ctx.attr.part == "own" and not own) or (ctx.attr.part == "deps" and own):
                continue
            for lib in li.libraries:
                # PIC objects when the toolchain made them: liblro.a may then
                # be linked into a user's own shared library too.
                a = lib.pic_static_library or lib.static_library
                if a != None and a.path not in seen:
                    seen[a.path] = True
                    archives.append(a)
    return [DefaultInfo(files = depset(archives))]

lro_archives = rule(
    implementation = _lro_archives_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "part": attr.string(
            default = "all",
            values = ["all", "own", "deps"],
            doc = "all: every archive; own: only the deps' own; deps: only their dependencies'",
        ),
    },
    doc = "The static archives (one per cc_library) in the closure of deps.",
)

def _lro_headers_impl(ctx):
    hdrs = list(ctx.files.srcs)
    for dep in ctx.attr.deps:
        hdrs.extend(dep[CcInfo].compilation_context.direct_public_headers)
    return [DefaultInfo(files = depset(hdrs))]

lro_headers = rule(
    implementation = _lro_headers_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".h"]),
        "deps": attr.label_list(providers = [CcInfo]),
    },
    doc = "srcs plus the headers deps declare themselves (hdrs), not their dependencies'.",
)
