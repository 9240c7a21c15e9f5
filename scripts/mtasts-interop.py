"""The MTA-STS oracle of make interop: postfix-mta-sts-resolver's own
STSResolver.resolve (Debian package postfix-mta-sts-resolver) run on the
cases in the JSON file argv[1] -- per case the TXT records at _mta-sts,
the HTTP status, the Content-Type and the body of the policy -- with its
DNS and HTTP clients replaced by fakes that return exactly those, so the
verdict is the resolver's own code's: record selection, fetch rules,
policy parsing and validation. Prints a JSON list of {name, result, mode,
mx, max_age}. Run by checks/mtasts_interop_test.go."""
import asyncio
import json
import sys

import aiohttp
import postfix_mta_sts_resolver.resolver as resolver


class FakeTXT:
    def __init__(self, text):
        self.text = text


class FakeDNS:
    """Answers every TXT query with the case's records."""

    def __init__(self, texts):
        self.texts = texts

    async def query(self, name, qtype):
        return [FakeTXT(t) for t in self.texts]


class FakeContent:
    def __init__(self, body):
        self.body, self.off = body, 0

    async def read(self, n):
        chunk = self.body[self.off:self.off + n]
        self.off += n
        return chunk


class FakeResponse:
    """The case's answer, as aiohttp presents it."""

    def __init__(self, case):
        self.status = case["status"]
        self.headers = {"Content-Type": case["ctype"]}
        self.content = FakeContent(case["body"].encode())
        self.charset = None
        for param in case["ctype"].split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset":
                self.charset = value.strip('"')

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


CASE = None


class FakeSession:
    def __init__(self, *args, **kwargs):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    def get(self, url, **kwargs):
        return FakeResponse(CASE)


async def main(path):
    global CASE
    aiohttp.ClientSession = FakeSession
    out = []
    with open(path) as f:
        cases = json.load(f)
    for case in cases:
        CASE = case
        res = resolver.STSResolver(loop=asyncio.get_running_loop(), timeout=5)
        res._resolver = FakeDNS(case["txt"])
        status, found = await res.resolve(case["name"] + ".example")
        row = {"name": case["name"], "result": status.name, "mode": "", "mx": [], "max_age": 0}
        if found is not None:
            pol = found[1]
            row.update(mode=pol.get("mode", ""), mx=pol.get("mx", []), max_age=pol.get("max_age", 0))
        out.append(row)
    json.dump(out, sys.stdout)


asyncio.run(main(sys.argv[1]))
