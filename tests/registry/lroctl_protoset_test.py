"""lroctl --protoset against an independent server (python3-grpcio) whose
operations carry real Speech v1 and Dialogflow v2 payloads.

usage: lroctl_protoset_test.py LROCTL SPEECH_SET DIALOGFLOW_SET NOIMPORTS_SET

The server answers GetOperation, ListOperations and WaitOperation from
Operations python built with the types of the descriptor sets. lroctl's
output must equal python json_format's JSON of the same messages when given
the protosets, and must show the base64 fallback without them (so the check
can fail). Bad --protoset arguments must end with exit code 1 and a message
naming the file and the problem.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

LROCTL, SPEECH, DIALOGFLOW, NOIMPORTS = sys.argv[1:5]
del sys.argv[1:5]

pool = descriptor_pool.DescriptorPool()
seen = set()
for p in (SPEECH, DIALOGFLOW):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(p, "rb") as f:
        fds.ParseFromString(f.read())
    for fd in fds.file:
        if fd.name not in seen:
            seen.add(fd.name)
            pool.Add(fd)
factory = message_factory.MessageFactory(pool)


def cls(name):
    return factory.GetPrototype(pool.FindMessageTypeByName(name))


Operation = cls("google.longrunning.Operation")
ListResp = cls("google.longrunning.ListOperationsResponse")
GetReq = cls("google.longrunning.GetOperationRequest")
ListReq = cls("google.longrunning.ListOperationsRequest")
WaitReq = cls("google.longrunning.WaitOperationRequest")
PARENT = "projects/p/locations/global/operations"

ops = {}
# Speech: a finished recognition.
meta = cls("google.cloud.speech.v1.LongRunningRecognizeMetadata")(
    progress_percent=100, uri="gs://bucket/audio.flac")
meta.start_time.FromSeconds(1704164645)
meta.last_update_time.FromSeconds(1704164745)
resp = cls("google.cloud.speech.v1.LongRunningRecognizeResponse")()
res = resp.results.add(channel_tag=1, language_code="en-us")
alt = res.alternatives.add(transcript="how old is the Brooklyn Bridge", confidence=0.98)
w = alt.words.add(word="how", speaker_tag=1)
w.start_time.FromNanoseconds(100000000)
w.end_time.FromNanoseconds(400000000)
res.result_end_time.FromMilliseconds(2500)
resp.total_billed_time.FromSeconds(15)
op = Operation(name=PARENT + "/speech-1", done=True)
op.metadata.Pack(meta)
op.response.Pack(resp)
ops[op.name] = op
# Dialogflow: a running knowledge operation, an exported agent, a failure.
km = cls("google.cloud.dialogflow.v2.KnowledgeOperationMetadata")(
    state=2, knowledge_base="projects/p/knowledgeBases/kb")
km.export_operation_metadata.exported_gcs_destination.uri = "gs://b/o"
op = Operation(name=PARENT + "/df-running")
op.metadata.Pack(km)
ops[op.name] = op
ea = cls("google.cloud.dialogflow.v2.ExportAgentResponse")(agent_uri="gs://b/agent.zip")
op = Operation(name=PARENT + "/df-export", done=True)
op.metadata.Pack(km)
op.response.Pack(ea)
ops[op.name] = op
bu = cls("google.cloud.dialogflow.v2.BatchUpdateIntentsResponse")()
it = bu.intents.add(name="projects/p/agent/intents/1", display_name="greet", priority=500000,
                    webhook_state=1, ml_disabled=False)
it.training_phrases.add(type=1, times_added_count=2).parts.add(text="hello", entity_type="@sys.any")
it.messages.add().text.text.append("Hi!")
it.parameters.add(display_name="p", mandatory=True)
op = Operation(name=PARENT + "/df-batch", done=True)
op.response.Pack(bu)
ops[op.name] = op
op = Operation(name=PARENT + "/df-failed", done=True)
op.error.code = 9
op.error.message = "agent is locked"
op.error.details.add().Pack(km)
ops[op.name] = op


def get(req, ctx):
    r = GetReq.FromString(req)
    if r.name not in ops:
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no operation " + r.name)
    return ops[r.name].SerializeToString()


def lst(req, ctx):
    r = ListReq.FromString(req)
    page = ListResp()
    for o in ops.values():
        page.operations.append(o)
    return page.SerializeToString()


def wait(req, ctx):
    r = WaitReq.FromString(req)
    if r.name not in ops:
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no operation " + r.name)
    return ops[r.name].SerializeToString()


ident = lambda b: b  # noqa: E731 (raw bytes in and out)
handler = grpc.method_handlers_generic_handler("google.longrunning.Operations", {
    n: grpc.unary_unary_rpc_method_handler(f, request_deserializer=ident,
                                           response_serializer=ident)
    for n, f in (("GetOperation", get), ("ListOperations", lst), ("WaitOperation", wait))})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
TARGET = "127.0.0.1:%d" % port
SETS = ["--protoset", SPEECH, "--protoset=" + DIALOGFLOW]


def run(*args):
    r = subprocess.run([LROCTL, "--target", TARGET, "--plaintext"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def python_json(m):
    return json.loads(json_format.MessageToJson(m, descriptor_pool=pool))


class ProtosetTest(unittest.TestCase):
    def test_get_every_operation(self):
        for name, o in ops.items():
            rc, out, err = run(*SETS, "get", name)
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out), python_json(o), name)
            self.assertNotIn('"value": "', out if "df-failed" not in name else "")

    def test_without_protoset_falls_back(self):
        rc, out, err = run("get", PARENT + "/speech-1")
        self.assertEqual(rc, 0, err)
        got = json.loads(out)
        self.assertEqual(set(got["metadata"]), {"@type", "value"})
        self.assertNotEqual(got, python_json(ops[PARENT + "/speech-1"]))
        # One set only: Dialogflow types still fall back, Speech ones expand.
        rc, out, err = run("--protoset", SPEECH, "get", PARENT + "/df-export")
        self.assertEqual(rc, 0, err)
        self.assertEqual(set(json.loads(out)["response"]), {"@type", "value"})

    def test_list_and_wait(self):
        rc, out, err = run("list", PARENT, *SETS)
        self.assertEqual(rc, 0, err)
        page = ListResp()
        for o in ops.values():
            page.operations.append(o)
        self.assertEqual(json.loads(out), python_json(page))
        rc, out, err = run(*SETS, "wait", PARENT + "/df-export", "--timeout", "20s")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), python_json(ops[PARENT + "/df-export"]))
        rc, out, err = run(*SETS, "wait", PARENT + "/df-failed", "--timeout", "20s")
        self.assertEqual(rc, 3, err)  # the operation failed
        self.assertEqual(json.loads(out), python_json(ops[PARENT + "/df-failed"]))

    def test_bad_protosets(self):
        with tempfile.TemporaryDirectory() as d:
            junk = os.path.join(d, "junk.protoset")
            with open(junk, "wb") as f:
                f.write(b"\xff\xff\xff\xff garbage")
            cases = [
                (["--protoset", os.path.join(d, "missing.protoset")],
                 ["missing.protoset", "No such file"]),
                (["--protoset", junk], ["junk.protoset", "do not decode"]),
                (["--protoset", NOIMPORTS], ["is not defined", "--include_imports"]),
                (["--protoset"], ["needs a file"]),
            ]
            for args, words in cases:
                # Flags may follow the command; a trailing --protoset has no file.
                rc, out, err = run("get", PARENT + "/speech-1", *args)
                self.assertIn(rc, (1, 2), err)
                self.assertEqual(rc, 2 if args == ["--protoset"] else 1, err)
                self.assertEqual(out, "")
                for word in words:
                    self.assertIn(word, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        server.stop(None)
