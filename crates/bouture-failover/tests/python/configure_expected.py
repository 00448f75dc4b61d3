"""What Python's configparser says `bouture configure` must produce.

Usage: python3 configure_expected.py URL ORIGINAL WRITTEN [ORIGINAL WRITTEN]...

For each pair, prints {"expected": ..., "written": ...} under ORIGINAL's path:
"expected" is ORIGINAL read by configparser and edited through configparser's
own API the way configure must edit it (in [slapos]: master_url set to URL,
key_file, cert_file, certificate_repository_path and master_ca_file removed,
from [DEFAULT] too); "written" is WRITTEN as configparser reads it. Both have
the shape {"defaults": {option: raw}, "sections": [[name, {option: raw},
items]]}, items being ConfigParser.items(name) (interpolated).
"""
import configparser
import json
import os
import sys

# The dump shape is bouture-ini's baseline's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../bouture-ini/tests/python"))
from configparser_dump import dump_parser as dump  # noqa: E402

REMOVED = ("key_file", "cert_file", "certificate_repository_path", "master_ca_file")


def read(path):
    parser = configparser.ConfigParser()
    with open(path, encoding="utf-8") as handle:
        parser.read_file(handle)
    return parser


def expected(path, url):
    parser = read(path)
    for option in REMOVED:
        parser.remove_option("slapos", option)  # own value (if any) and...
        parser._defaults.pop(option, None)  # ...the one [DEFAULT] passes on
    parser.set("slapos", "master_url", url.replace("%", "%%"))
    return dump(parser)


url = sys.argv[1]
pairs = sys.argv[2:]
result = {}
for original, written in zip(pairs[::2], pairs[1::2]):
    result[original] = {"expected": expected(original, url), "written": dump(read(written))}
print(json.dumps(result, ensure_ascii=False))
