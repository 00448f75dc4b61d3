"""Dump what Python's configparser (as SlapOS uses it) reads from INI files.

Usage: python3 configparser_dump.py FILE...

Prints one JSON object mapping each FILE to either
  {"error": "<ExceptionClass>"}
or
  {"defaults": {option: raw}, "sections": [[name, {option: raw}, items]]}
where items is {option: interpolated value} for ConfigParser.items(name), or
{"error": "<ExceptionClass>"} when interpolation fails.
"""
import configparser
import json
import sys


def dump(path):
    parser = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except configparser.Error as error:
        return {"error": type(error).__name__}
    return dump_parser(parser)


def dump_parser(parser):
    """The shape above for a parser already read (shared with bouture-failover's tests)."""
    sections = []
    for name in parser.sections():
        raw = {option: value for option, value in parser._sections[name].items()}
        try:
            items = dict(parser.items(name))
        except configparser.Error as error:
            items = {"error": type(error).__name__}
        sections.append([name, raw, items])
    return {"defaults": dict(parser._defaults), "sections": sections}


if __name__ == "__main__":
    print(json.dumps({path: dump(path) for path in sys.argv[1:]}, ensure_ascii=False))
