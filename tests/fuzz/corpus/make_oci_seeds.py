#!/usr/bin/env python3
# Seeds for fuzz_oci_manifests: one valid document of each kind, as ingot writes them (sorted
# keys, no whitespace). The first byte picks the parser: 0 index, 1 image manifest, 2 signature.
import hashlib
import json
import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oci_manifests")
os.makedirs(out, exist_ok=True)


def digest(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def dump(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def write(name, kind, document):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([kind]) + dump(document).encode())


empty = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest("{}"), "size": 2}
layers = []
offset = 0
for i, length in enumerate([262144, 70000, 1048576]):
    layers.append({
        "mediaType": "application/vnd.ingot.disk.chunk.v1+zstd",
        "digest": digest("blob%d" % i),
        "size": length // 3,
        "annotations": {
            "org.ingot.chunk.offset": str(offset),
            "org.ingot.chunk.length": str(length),
            "org.ingot.chunk.digest": digest("chunk%d" % i),
        },
    })
    offset += length + (4 << 20) * (i % 2)
image = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.ingot.image.v1",
    "config": {"mediaType": "application/vnd.ingot.manifest.v1+json", "digest": digest("m"), "size": 700},
    "layers": layers,
    "annotations": {"org.ingot.disk.size": str(offset + 4096)},
}
write("image", 1, image)
write("image-empty", 1, dict(image, layers=[empty], annotations={"org.ingot.disk.size": "0"}))

subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(dump(image)),
           "size": len(dump(image))}
signature = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.ingot.signature.v1",
    "config": empty,
    "layers": [{"mediaType": "application/vnd.ingot.signature.v1+minisign", "digest": digest("sig"), "size": 300}],
    "subject": subject,
}
write("signature", 2, signature)

index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        dict(subject, artifactType="application/vnd.ingot.image.v1",
             annotations={"org.opencontainers.image.ref.name": "12"}),
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(dump(signature)),
         "size": len(dump(signature)), "artifactType": "application/vnd.ingot.signature.v1",
         "annotations": {"org.opencontainers.image.ref.name": "sha256-%s.sig" % subject["digest"][7:]}},
    ],
}
write("index", 0, index)
