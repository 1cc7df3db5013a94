#!/usr/bin/env python3
"""Checks AWS CLI command lines against the CLI's service models (botocore).

Used by test/docs_test.go: it reads every `aws ...` command the docs show,
already split into words by a shell parser, as JSON on stdin, and answers with
the problems of each, in one process per test run. botocore and jmespath come
with cfn-lint's dependencies, a test prerequisite.

How the AWS CLI (v2) turns a service model into a command line, and what this
checks of it:
- `aws SERVICE OPERATION`: OPERATION is the model's operation name in
  lower-case words joined by hyphens (botocore.xform_name), e.g.
  DescribeDBInstances -> describe-db-instances.
- each input member becomes --member-name; a boolean also --no-member-name and
  takes no value; a list takes one or more values, anything else exactly one;
  required members must be given (unless --cli-input-json supplies them).
- paginated operations also take --starting-token, --page-size, --max-items
  (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-pagination.html).
- `aws SERVICE wait WAITER`: one per waiter of the service's waiter model,
  taking the parameters of the operation it polls
  (e.g. https://docs.aws.amazon.com/cli/latest/reference/rds/wait/db-instance-available.html).
- global options, on every command (the Synopsis of any v2 command page, e.g.
  https://docs.aws.amazon.com/cli/latest/reference/logs/tail.html, and
  https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-options.html).
- commands the CLI adds that are not API operations: CUSTOM below.
- --query must be a JMESPath expression; --output one of the CLI's formats.
"""

import json
import re
import sys

import botocore
import botocore.exceptions
import botocore.session
import jmespath
from botocore import xform_name

# CLI command name -> botocore service name, where they differ.
SERVICE_ALIASES = {"s3api": "s3", "configservice": "config"}

# Global options: name -> takes a value.
GLOBAL = {
    "debug": False, "endpoint-url": True, "no-verify-ssl": False, "no-paginate": False,
    "output": True, "query": True, "profile": True, "region": True, "version": False,
    "color": True, "no-sign-request": False, "ca-bundle": True, "cli-read-timeout": True,
    "cli-connect-timeout": True, "cli-binary-format": True, "no-cli-pager": False,
    "cli-auto-prompt": False, "no-cli-auto-prompt": False,
}
# Options every operation command has besides its parameters.
PER_COMMAND = {"cli-input-json": True, "cli-input-yaml": True, "generate-cli-skeleton": "optional"}
PAGING = {"starting-token": "string", "page-size": "integer", "max-items": "integer"}
OUTPUTS = {"json", "text", "table", "yaml", "yaml-stream"}

# CLI commands that are customizations rather than API operations, with the
# options their v2 reference pages list ("+" = one or more values, True = one
# value, False = no value) and how many positional arguments they take.
CUSTOM = {
    ("ecr", "get-login-password"): {
        "source": "https://docs.aws.amazon.com/cli/latest/reference/ecr/get-login-password.html",
        "positional": 0, "flags": {}},
    ("s3", "ls"): {
        "source": "https://docs.aws.amazon.com/cli/latest/reference/s3/ls.html",
        "positional": 1,  # S3Uri (optional in the CLI; the docs always name one)
        "flags": {"recursive": False, "page-size": True, "human-readable": False,
                  "summarize": False, "request-payer": True}},
    ("s3", "cp"): {
        "source": "https://docs.aws.amazon.com/cli/latest/reference/s3/cp.html",
        "positional": 2,  # source, destination ("-" is standard output)
        "flags": {"recursive": False, "exclude": True, "include": True, "dryrun": False,
                  "quiet": False, "sse": True, "content-type": True, "cache-control": True}},
    ("s3", "sync"): {
        "source": "https://docs.aws.amazon.com/cli/latest/reference/s3/sync.html",
        "positional": 2,  # source, destination
        "flags": {"delete": False, "exclude": True, "include": True, "dryrun": False, "quiet": False,
                  "size-only": False, "exact-timestamps": False, "cache-control": True,
                  "content-type": True, "sse": True}},
    ("logs", "tail"): {
        "source": "https://docs.aws.amazon.com/cli/latest/reference/logs/tail.html",
        "positional": 1,  # group_name
        "flags": {"since": True, "follow": False, "format": True, "filter-pattern": True,
                  "log-stream-names": "+", "log-stream-name-prefix": True}},
}

# Options the CLI renames from the model's member names (the AWS CLI's
# awscli/customizations/argrename.py; e.g. the sns subscribe reference page
# lists --notification-endpoint), for the services the docs use:
# "service.operation.model-name" ("*" for any operation) -> CLI name.
RENAMES = {
    "sns.subscribe.endpoint": "notification-endpoint",
    "ecs.*.no-enable-execute-command": "disable-execute-command",
    "ecs.execute-command.no-interactive": "non-interactive",
    "ec2.*.no-egress": "ingress",
    "ec2.*.no-disable-api-termination": "enable-api-termination",
}

INTEGER = re.compile(r"^-?\d+$")


class Checker:
    def __init__(self):
        self.session = botocore.session.get_session()
        self.services = set(self.session.get_available_services())
        self.models = {}

    def model(self, service):
        if service not in self.models:
            model = self.session.get_service_model(service)
            ops = {xform_name(name, "-"): name for name in model.operation_names}
            try:
                paginated = set(self.session.get_paginator_model(service)._paginator_config)
            except botocore.exceptions.UnknownServiceError:
                paginated = set()
            except botocore.exceptions.DataNotFoundError:
                paginated = set()
            try:
                waiter_model = self.session.get_waiter_model(service)
                waiters = {xform_name(n, "-"): waiter_model.get_waiter(n) for n in waiter_model.waiter_names}
            except botocore.exceptions.DataNotFoundError:
                waiters = {}
            self.models[service] = (model, ops, paginated, waiters)
        return self.models[service]

    def check(self, cmd):
        """Returns (problems, facts) for one command."""
        words = cmd["args"]
        problems, facts = [], {}
        i = 0
        # Global options may come before the service.
        while i < len(words) and words[i]["text"].startswith("--") and not words[i]["dynamic"]:
            name = words[i]["text"][2:]
            if name not in GLOBAL:
                return ["unknown global option --%s" % name], facts
            i += 2 if GLOBAL[name] else 1
        if len(words) - i < 2:
            return ["needs a service and an operation"], facts
        service_word, op_word = words[i], words[i + 1]
        if service_word["dynamic"] or op_word["dynamic"]:
            return ["service and operation must be literal"], facts
        service = SERVICE_ALIASES.get(service_word["text"], service_word["text"])
        if service not in self.services:
            return ["unknown service %r" % service_word["text"]], facts
        model, ops, paginated, waiters = self.model(service)
        op = op_word["text"]
        rest = words[i + 2:]
        custom = CUSTOM.get((service_word["text"], op))
        params, required, positional, paging = {}, [], 0, False
        if custom:
            for name, arity in custom["flags"].items():
                params[name] = {"arity": arity, "type": "string"}
            positional = custom["positional"]
        elif op == "wait":
            if not rest or rest[0]["dynamic"]:
                return ["wait needs a waiter name"], facts
            waiter_name = rest[0]["text"]
            waiter = waiters.get(waiter_name)
            if waiter is None:
                return ["%s has no waiter %r (waiters: %s)" % (service, waiter_name, ", ".join(sorted(waiters)) or "none")], facts
            rest = rest[1:]
            operation = model.operation_model(waiter.operation)
            params, required = self.parameters(operation)
            # A waiter with no acceptor for errors stops at the first error,
            # e.g. a resource not found (yet).
            facts["waiterStopsOnError"] = not any(a.matcher == "error" for a in waiter.acceptors)
            facts["waiterOperation"] = waiter.operation
        elif op in ops:
            operation = model.operation_model(ops[op])
            params, required = self.parameters(operation)
            for key, cli_name in RENAMES.items():
                svc, key_op, arg = key.split(".")
                if svc == service_word["text"] and key_op in ("*", op) and arg in params:
                    params[cli_name] = params.pop(arg)
            paging = ops[op] in paginated
            facts["operation"] = ops[op]
            if cmd.get("inputKeys") is not None:
                members = set(operation.input_shape.members) if operation.input_shape else set()
                for key in cmd["inputKeys"]:
                    if key not in members:
                        problems.append("--cli-input-json key %s is not a parameter of %s" % (key, ops[op]))
        else:
            return ["%s has no operation %r" % (service_word["text"], op)], facts

        given = set()
        j, positionals = 0, 0
        while j < len(rest):
            word = rest[j]
            text = word["text"]
            if word["dynamic"] or not text.startswith("--"):
                positionals += 1
                if positionals > positional:
                    problems.append("unexpected argument %r (no option takes it)" % text)
                j += 1
                continue
            name, _, inline = text[2:].partition("=")
            spec = self.option(name, params, paging)
            if spec is None:
                problems.append("unknown option --%s" % name)
                j += 1
                continue
            given.add(spec.get("member", name))
            # Values follow the option, as argparse reads them: a flag takes
            # none, a scalar exactly one, a list all words up to the next option.
            k = j + 1
            values = [{"text": inline, "dynamic": word["dynamic"]}] if inline else []
            arity = spec["arity"]
            if not inline and arity is not False:
                limit = len(rest) if arity == "+" else j + 2
                while k < min(limit, len(rest)) and (rest[k]["dynamic"] or not rest[k]["text"].startswith("--")):
                    values.append(rest[k])
                    k += 1
            if arity is False and inline:
                problems.append("--%s takes no value" % name)
            elif arity in (True, "+") and not values:
                if not (k == len(rest) and cmd.get("xargs")):  # xargs appends the values
                    problems.append("--%s needs a value" % name)
            if values:
                self.check_value(name, spec, values[0], problems)
            j = k
        if "cli-input-json" not in given and "cli-input-yaml" not in given:
            for member in required:
                if member not in given:
                    problems.append("missing required --%s" % xform_name(member, "-"))
        if positionals < positional:
            problems.append("missing positional argument")
        return problems, facts

    @staticmethod
    def parameters(operation):
        params, required = {}, []
        shape = operation.input_shape
        if shape is None:
            return params, required
        for member, member_shape in shape.members.items():
            flag = xform_name(member, "-")
            if member_shape.type_name == "boolean":
                params[flag] = {"arity": False, "member": member, "type": "boolean"}
                params["no-" + flag] = {"arity": False, "member": member, "type": "boolean"}
            elif member_shape.type_name == "list":
                params[flag] = {"arity": "+", "member": member, "type": "list"}
            else:
                params[flag] = {"arity": True, "member": member, "type": member_shape.type_name}
        required = list(shape.required_members)
        return params, required

    @staticmethod
    def option(name, params, paging):
        if name in params:
            return params[name]
        if paging and name in PAGING:
            return {"arity": True, "type": PAGING[name]}
        if name in PER_COMMAND:
            return {"arity": PER_COMMAND[name], "type": "string"}
        if name in GLOBAL:
            return {"arity": GLOBAL[name], "type": "string"}
        return None

    @staticmethod
    def check_value(name, spec, value, problems):
        if value["dynamic"]:
            return
        text = value["text"]
        if name == "query":
            try:
                jmespath.compile(text)
            except jmespath.exceptions.JMESPathError as e:
                problems.append("--query %r is not JMESPath: %s" % (text, str(e).splitlines()[0]))
        elif name == "output" and text not in OUTPUTS:
            problems.append("--output %r is not one of %s" % (text, ", ".join(sorted(OUTPUTS))))
        elif spec["type"] in ("integer", "long") and not INTEGER.match(text):
            problems.append("--%s takes an integer, got %r" % (name, text))


def main():
    request = json.load(sys.stdin)
    checker = Checker()
    results = []
    for cmd in request["commands"]:
        problems, facts = checker.check(cmd)
        results.append({"problems": problems, "facts": facts})
    json.dump({"botocore": botocore.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
