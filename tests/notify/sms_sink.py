#!/usr/bin/env python3
"""A stand-in SMS provider for tests: records each POST as a JSON line and answers with a fixed status.

Usage: sms_sink.py PORT OUTPUT_FILE [STATUS]
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, OUTPUT, STATUS = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 201


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8")
        record = {
            "path": self.path,
            "authorization": self.headers.get("Authorization", ""),
            "content_type": self.headers.get("Content-Type", ""),
            "body": body,
        }
        # Written before answering, so a test that got the answer can read the record.
        with open(OUTPUT, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        reply = json.dumps({"sid": "SM0001", "status": "queued"} if STATUS < 300 else {"message": "refused"}).encode()
        self.send_response(STATUS)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Sink).serve_forever()
