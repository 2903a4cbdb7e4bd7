#!/usr/bin/env python3
"""Runs a Lambda handler written for Python unchanged behind shardscope's
trigger --exec: `python3 runner.py module.handler` (module relative to the
working directory, as Lambda's "lambda_function.lambda_handler"). The
event comes on stdin; the handler's return value goes to stdout as JSON.
Its prints go to stderr, as Lambda sends them to CloudWatch. An exception
exits 1 with Lambda's error JSON as stderr's last line."""
import importlib
import json
import os
import sys
import time
import traceback


class Context:
    def __init__(self):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("SHARDSCOPE_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = os.environ.get("SHARDSCOPE_REQUEST_ID", "")
        self.log_group_name = ""
        self.log_stream_name = ""
        self._deadline = int(os.environ.get("SHARDSCOPE_DEADLINE_MS", "0")) or int(time.time() * 1000) + 3000

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline - int(time.time() * 1000))


def main():
    if len(sys.argv) != 2 or "." not in sys.argv[1]:
        print("usage: python3 runner.py module.handler", file=sys.stderr)
        return 2
    mod_name, _, fn_name = sys.argv[1].rpartition(".")
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # stdout carries only the reply
    sys.path.insert(0, os.getcwd())
    try:
        handler = getattr(importlib.import_module(mod_name.replace("/", ".")), fn_name)
    except Exception as e:  # noqa: BLE001 - reported as Lambda does
        print(json.dumps({"errorType": "Runtime.ImportModuleError", "errorMessage": "Unable to import module '%s': %s" % (mod_name, e)}), file=sys.stderr)
        return 1
    raw = sys.stdin.read()
    event = json.loads(raw) if raw.strip() else None
    try:
        result = handler(event, Context())
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"errorType": type(e).__name__, "errorMessage": str(e),
                          "stackTrace": traceback.format_exc().splitlines()}), file=sys.stderr)
        return 1
    real_stdout.write(json.dumps(result))
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
