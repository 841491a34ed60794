#!/usr/bin/env python3
"""The script a user would write instead of `unclosed`: line by line, count sessions,
connectors and the pooled connections in `connections:` lines. (No envelopes, no pairing,
no call sites: the alternative `unclosed` is measured against.)"""
import json
import sys

sessions = connectors = pooled = 0
with open(sys.argv[1], "rb") as f:
    for raw in f:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.endswith("Unclosed client session"):
            sessions += 1
        elif line.endswith("Unclosed connector"):
            connectors += 1
        elif line.startswith("connections: ["):
            pooled += line.count("ResponseHandler")
print(json.dumps({"sessions": sessions, "connectors": connectors, "pooled_connections": pooled}))
