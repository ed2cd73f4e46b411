#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_registry_server (tests/fuzz/fuzz_registry_server.cpp has the
input format): request sequences a real client sends, among them complete pushes whose blobs and
manifests commit, so fuzzing starts deep inside the router; hostile requests; manifests; grammar
inputs. The seeds are committed; rerun this only to change them."""

import base64
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "registry_server")

OPEN, BASIC, BEARER, MANIFEST, GRAMMAR = range(5)
SEPARATOR = "\n---\n"

CI = "Basic " + base64.b64encode(b"ci:ci-secret").decode()
ALICE = "Basic " + base64.b64encode(b"alice:alice-secret").decode()

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def digest(data):
    if isinstance(data, str):
        data = data.encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dump(document):
    return json.dumps(document, separators=(",", ":"))


def request(method, target, headers=(), body=""):
    lines = [method + " " + target] + ["%s: %s" % h for h in headers]
    return "\n".join(lines) + "\n\n" + body


def write(name, mode, data, flags=0):
    os.makedirs(OUT, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    prefix = bytes([mode]) + (bytes([flags]) if mode <= BEARER else b"")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(prefix + data)


def session(name, mode, requests, flags=0):
    write(name, mode, SEPARATOR.join(requests), flags)


def auth(mode, credentials):
    return [("Authorization", credentials)] if mode != OPEN else []


config = dump({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
layer = "ingot layer bytes " * 20
manifest = dump({
    "schemaVersion": 2,
    "mediaType": OCI_MANIFEST,
    "artifactType": "application/vnd.ingot.image.v1",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config),
               "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(layer),
                "size": len(layer)}],
    "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
})
empty = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest("{}"), "size": 2}
signature_blob = "untrusted comment: minisign signature\n"
signature = dump({
    "schemaVersion": 2,
    "mediaType": OCI_MANIFEST,
    "artifactType": "application/vnd.ingot.signature.v1",
    "config": empty,
    "layers": [{"mediaType": "application/vnd.ingot.signature.v1+minisign",
                "digest": digest(signature_blob), "size": len(signature_blob)}],
    "subject": {"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest)},
})
index = dump({
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
                   "platform": {"architecture": "amd64", "os": "linux"}}],
})


def push(mode, repo, credentials=CI):
    """A complete push: monolithic config, chunked layer, manifest by tag, signature referrer."""
    a = auth(mode, credentials)
    half = len(layer) // 2
    return [
        request("POST", "/v2/%s/blobs/uploads/?digest={bd}" % repo,
                a + [("Content-Type", "application/octet-stream"),
                     ("Content-Length", str(len(config)))], config),
        request("POST", "/v2/%s/blobs/uploads/" % repo, a),
        request("PATCH", "/v2/%s/blobs/uploads/{id}" % repo,
                a + [("Content-Type", "application/octet-stream"),
                     ("Content-Range", "0-%d" % (half - 1)), ("Content-Length", str(half))],
                layer[:half]),
        request("PUT", "/v2/%s/blobs/uploads/{id}?digest=%s" % (repo, digest(layer)),
                a + [("Content-Range", "%d-%d" % (half, len(layer) - 1)),
                     ("Content-Length", str(len(layer) - half))], layer[half:]),
        request("PUT", "/v2/%s/manifests/latest" % repo,
                a + [("Content-Type", OCI_MANIFEST), ("Content-Length", str(len(manifest)))],
                manifest),
    ]


def pull(mode, repo, credentials=CI):
    a = auth(mode, credentials)
    return [
        request("GET", "/v2/%s/manifests/latest" % repo,
                a + [("Accept", OCI_MANIFEST + ", " + OCI_INDEX)]),
        request("HEAD", "/v2/%s/manifests/{dg}" % repo, a),
        request("GET", "/v2/%s/blobs/%s" % (repo, digest(layer)), a + [("Range", "bytes=0-15")]),
        request("GET", "/v2/%s/tags/list?n=1&last=" % repo, a),
    ]


def router_seeds():
    session("base", OPEN, [request("GET", "/v2/")])
    session("base-head", OPEN, [request("HEAD", "/v2")])
    session("push", OPEN, push(OPEN, "gold/app"))
    session("push-pull", OPEN, push(OPEN, "library/ubuntu")[:-1] + [
        request("PUT", "/v2/library/ubuntu/manifests/{bd}", [("Content-Type", OCI_MANIFEST)],
                manifest)] + pull(OPEN, "library/ubuntu")[2:])
    session("pull", OPEN, push(OPEN, "gold/app") + pull(OPEN, "gold/app")[:3])
    session("referrers", OPEN, push(OPEN, "gold/app")[:2] + [
        request("POST", "/v2/gold/app/blobs/uploads/?digest={bd}", [], "{}"),
        request("POST", "/v2/gold/app/blobs/uploads/?digest={bd}", [], signature_blob),
        request("PUT", "/v2/gold/app/manifests/sha256-%s.sig" % digest(manifest)[7:],
                [("Content-Type", OCI_MANIFEST)], signature),
        request("GET", "/v2/gold/app/referrers/%s?artifactType=application%%2Fvnd.ingot.signature.v1"
                % digest(manifest)),
        request("GET", "/v2/gold/app/referrers/%s" % digest(manifest)),
    ])
    session("index", OPEN, push(OPEN, "gold/app") + [
        request("PUT", "/v2/gold/app/manifests/multi", [("Content-Type", OCI_INDEX)], index),
        request("GET", "/v2/gold/app/manifests/multi"),
    ])
    session("tags-catalog", OPEN, push(OPEN, "gold/app") + [
        request("PUT", "/v2/gold/app/manifests/v1", [("Content-Type", OCI_MANIFEST)], manifest),
        request("GET", "/v2/gold/app/tags/list?n=1"),
        request("GET", "/v2/_catalog?n=1&last=gold%2Fa"),
    ])
    session("ranges", OPEN, [
        request("POST", "/v2/gold/app/blobs/uploads/?digest={bd}", [], layer),
        request("GET", "/v2/gold/app/blobs/{dg}", [("Range", "bytes=-5")]),
        request("GET", "/v2/gold/app/blobs/{dg}", [("Range", "bytes=10-")]),
        request("GET", "/v2/gold/app/blobs/{dg}", [("Range", "bytes=100000-")]),
        request("GET", "/v2/gold/app/blobs/{dg}", [("Range", "bytes=18446744073709551615-1")]),
        request("HEAD", "/v2/gold/app/blobs/{dg}", [("Range", "bytes=0-0,5-6")]),
    ])
    session("mount", OPEN, [
        request("POST", "/v2/gold/app/blobs/uploads/?digest={bd}", [], config),
        request("POST", "/v2/gold/other/blobs/uploads/?mount={dg}&from=gold%2Fapp"),
        request("POST", "/v2/gold/third/blobs/uploads/?mount=%s&from=nowhere" % digest("x")),
        request("DELETE", "/v2/gold/other/blobs/{dg}"),
    ])
    session("upload-status-cancel", OPEN, [
        request("POST", "/v2/gold/app/blobs/uploads/"),
        request("GET", "/v2/gold/app/blobs/uploads/{id}"),
        request("PATCH", "/v2/gold/app/blobs/uploads/{id}", [("Content-Range", "5-9")], "01234"),
        request("PATCH", "/v2/gold/app/blobs/uploads/{id}", [("Content-Range", "0-4"),
                                                             ("Content-Length", "4")], "01234"),
        request("GET", "/v2/gold/other/blobs/uploads/{id}"),
        request("DELETE", "/v2/gold/app/blobs/uploads/{id}"),
    ])
    session("upload-dropped", OPEN, [
        request("POST", "/v2/gold/app/blobs/uploads/"),
        request("PATCH", "/v2/gold/app/blobs/uploads/{id}", [], layer),
    ], flags=8 | 3)
    session("upload-wrong-digest", OPEN, [
        request("POST", "/v2/gold/app/blobs/uploads/"),
        request("PUT", "/v2/gold/app/blobs/uploads/{id}?digest=%s" % digest("other"), [], "data"),
        request("PUT", "/v2/gold/app/blobs/uploads/{id}?digest={bd}", [], "data"),
    ])
    session("too-large", OPEN, [
        request("PUT", "/v2/gold/app/manifests/big", [("Content-Type", OCI_MANIFEST)], "x" * 9000),
        request("GET", "/v2/", [], "y" * 300),
    ], flags=0)
    session("delete", OPEN, push(OPEN, "gold/app") + [
        request("DELETE", "/v2/gold/app/manifests/latest"),
        request("DELETE", "/v2/gold/app/manifests/%s" % digest(manifest)),
        request("GET", "/v2/gold/app/manifests/%s" % digest(manifest)),
    ])

    # Access control: anonymous, wrong password, right user, user without the right.
    session("auth-base", BASIC, [
        request("GET", "/v2/"),
        request("GET", "/v2/", [("Authorization", CI)]),
        request("GET", "/v2/", [("Authorization", "Basic " + base64.b64encode(b"ci:wrong").decode())]),
        request("GET", "/v2/", [("Authorization", "Basic !!!")]),
        request("GET", "/v2/", [("Authorization", "Digest username=ci")]),
    ])
    session("auth-push", BASIC, push(BASIC, "gold/app") + pull(BASIC, "gold/app", ALICE)[:1])
    session("auth-denied", BASIC, [
        request("POST", "/v2/gold/app/blobs/uploads/", [("Authorization", ALICE)]),
        request("DELETE", "/v2/gold/app/manifests/latest", [("Authorization", ALICE)]),
        request("DELETE", "/v2/gold/app/manifests/latest", [("Authorization", CI)]),
        request("GET", "/v2/public/app/tags/list"),
        request("POST", "/v2/public/app/blobs/uploads/"),
        request("GET", "/v2/_catalog", [("Authorization", ALICE)]),
    ])
    session("auth-overwrite", BASIC, push(BASIC, "gold/app") + [
        request("PUT", "/v2/gold/app/manifests/latest",
                [("Authorization", CI), ("Content-Type", OCI_INDEX)], index),
    ])
    session("bearer-flow", BEARER, [
        request("GET", "/v2/", [("Host", "registry.example:5000")]),
        request("GET", "/token?service=ingot-fuzz&scope=repository%3Agold%2Fapp%3Apull%2Cpush",
                [("Authorization", CI)]),
        request("GET", "/v2/gold/app/tags/list", [("Authorization", "Bearer {tok}")]),
        request("DELETE", "/v2/gold/app/manifests/latest", [("Authorization", "Bearer {tok}")]),
        request("GET", "/v2/_catalog", [("Authorization", "Bearer {tok}")]),
        request("GET", "/v2/gold/app/tags/list", [("Authorization", "Bearer e30.e30")]),
    ])
    session("bearer-push", BEARER, [
        request("GET", "/token?scope=repository:gold/app:pull,push&scope=registry:catalog:*",
                [("Authorization", CI)]),
    ] + push(BEARER, "gold/app", "Bearer {tok}")[:3])
    session("bearer-anonymous", BEARER, [
        request("GET", "/token?scope=repository:public/app:pull"),
        request("GET", "/v2/public/app/tags/list", [("Authorization", "Bearer {tok}")]),
        request("GET", "/v2/gold/app/tags/list", [("Host", "evil\"host"),
                                                  ("Authorization", "Bearer {tok}")]),
        request("POST", "/token"),
    ])

    # Hostile requests: each must be refused, never reach the store.
    hostile = [
        request("GET", "/v2/%2e%2e/%2e%2e/manifests/latest"),
        request("GET", "/v2/../../etc/manifests/passwd"),
        request("GET", "/v2/gold/../app/manifests/latest"),
        request("GET", "/v2/gold/app/manifests/..%2f..%2fetc"),
        request("GET", "/v2/gold/app/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd"),
        request("GET", "/v2/gold%00app/manifests/latest"),
        request("GET", "/v2/gold\0app/manifests/latest"),
        request("GET", "/v2/gold/app/manifests/latest\0"),
        request("GET", "/v2/gold/app/tags/list?last=%00&n=-1"),
        request("GET", "/v2/gold/app/tags/list?n=99999999999999999999"),
        request("GET", "/v2/" + "a" * 300 + "/manifests/latest"),
        request("GET", "/v2/" + "/".join(["ab"] * 100) + "/tags/list"),
        request("PUT", "/v2/gold/app/manifests/" + "t" * 200, [("Content-Type", OCI_MANIFEST)], manifest),
        request("GET", "/v2/gold/app/manifests/sha512:" + "ab" * 64),
        request("GET", "/v2/gold/app/blobs/sha256:" + "A" * 64),
        request("GET", "/v2/gold/app/manifests/latest#frag"),
        request("GET", "/v2/gold/app/manifests/latest?%zz"),
        request("GET", "v2/gold/app/manifests/latest"),
        request("GET", "/v2/" + "x" * 5000),
        request("BREW", "/v2/gold/app/manifests/latest"),
        request("GET", "/v2/_catalog/../gold"),
        request("GET", "/v2/gold/_blobs/manifests/latest"),
        request("PATCH", "/v2/gold/app/blobs/uploads/../../../tmp", [("Content-Range", "0-1")], "ab"),
        request("PATCH", "/v2/gold/app/blobs/uploads/{id}", [("Content-Range", "bytes=5-2")], "ab"),
        request("PATCH", "/v2/gold/app/blobs/uploads/{id}",
                [("Content-Range", "0-18446744073709551615"), ("Content-Length", "0")], ""),
    ]
    session("hostile-paths", OPEN, hostile[:8])
    session("hostile-queries", OPEN, hostile[8:16])
    session("hostile-misc", OPEN, [request("POST", "/v2/gold/app/blobs/uploads/")] + hostile[16:23])
    session("hostile-auth", BASIC, [
        request("GET", "/v2/%2e%2e/tags/list", [("Authorization", CI)]),
        request("GET", "/v2/gold/app/tags/list", [("Authorization", "Basic " + "A" * 5000)]),
        request("GET", "/v2/gold/app/tags/list", [("Authorization", "Basic Y2k6\0")]),
        request("GET", "/v2/gold/app/tags/list", [("Authorization", "Bearer ")]),
        request("GET", "/token?scope=" + "repository:gold/app:pull+" * 80, [("Authorization", CI)]),
    ])
    session("hostile-bearer", BEARER, [
        request("GET", "/v2/gold/app/tags/list", [("Authorization", "Bearer " + "a" * 3000)]),
        request("GET", "/v2/gold/app/tags/list", [("Authorization", "bearer x.y.z")]),
        request("GET", "/v2/gold/app/tags/list", [("Host", "a\r\nSet-Cookie: x")]),
        request("GET", "/token?scope=repository:..%2Fetc:pull", [("Authorization", CI)]),
    ])


def manifest_seeds():
    write("manifest-oci", MANIFEST, OCI_MANIFEST + "\n" + manifest)
    write("manifest-no-type", MANIFEST, "\n" + manifest)
    write("manifest-signature", MANIFEST, OCI_MANIFEST + "; charset=utf-8\n" + signature)
    write("manifest-index", MANIFEST, OCI_INDEX + "\n" + index)
    docker = json.loads(manifest)
    docker["mediaType"] = DOCKER_MANIFEST
    del docker["artifactType"]
    write("manifest-docker", MANIFEST, DOCKER_MANIFEST + "\n" + dump(docker))
    write("manifest-mismatch", MANIFEST, OCI_INDEX + "\n" + manifest)
    bad = json.loads(manifest)
    bad["layers"][0]["digest"] = "sha256:../../etc"
    bad["layers"][0]["size"] = -1
    write("manifest-bad-digest", MANIFEST, OCI_MANIFEST + "\n" + dump(bad))
    write("manifest-huge-numbers", MANIFEST, OCI_MANIFEST + "\n" +
          manifest.replace('"schemaVersion":2', '"schemaVersion":18446744073709551617'))
    write("manifest-schema-version-wraps", MANIFEST, OCI_MANIFEST + "\n" +
          manifest.replace('"schemaVersion":2', '"schemaVersion":4294967298'))
    twice = json.loads(manifest)
    twice["layers"].append(dict(twice["layers"][0], size=twice["layers"][0]["size"] + 1))
    write("manifest-size-disagrees", MANIFEST, OCI_MANIFEST + "\n" + dump(twice))
    write("manifest-bad-utf8", MANIFEST, OCI_MANIFEST.encode() + b"\n" +
          manifest.encode().replace(b"2024", b"\xff\xfe"))
    write("manifest-not-object", MANIFEST, OCI_MANIFEST + "\n[1,2,3]")


def grammar_seeds():
    for i, text in enumerate([
        "library/ubuntu",
        "gold/app-1.2_x__y---z",
        "a/b/c/d/e",
        "sha256:" + "0" * 64,
        "sha512+b64u.x:abc=_-",
        "v1.0-rc.1",
        "_latest",
        "gold/*\ngold/app/nested",
        "*a*b*c\nxaybzc",
        "a b&c=d%2F%00+é",
        "/v2/gold/app/tags/list?n=1&last=v1&last=v2",
    ]):
        write("grammar-%d" % i, GRAMMAR, text)


router_seeds()
manifest_seeds()
grammar_seeds()
