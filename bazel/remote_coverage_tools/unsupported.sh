#!/bin/sh
echo "bazel coverage is not supported in lro-c's offline build" >&2
exit 1
