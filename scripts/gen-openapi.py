#!/usr/bin/env python3
"""Regenerates openapi/engine-api.json: the part of the Engine API stevedore serves.

Reads the daemon's route table (scripts/dump-routes.js) and, for each route, takes the
operation's id, summary, parameters and response codes from Docker's v1.41 API
definition in ../shared/reference (the interface we implement). Routes the reference
does not define are listed with x-stevedore-extension. Run after adding routes:
    node scripts/dump-routes.js | python3 scripts/gen-openapi.py
"""
import json, os, re, sys
import yaml

here = os.path.dirname(os.path.abspath(__file__))
ref_path = os.path.join(here, '..', '..', 'shared', 'reference', 'engine-api-v1.41.yaml')
ref = yaml.safe_load(open(ref_path))
paths = {}
served = set()
for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    if r.get('notImplemented'):
        continue
    served.add((re.sub(r'\{(\w+)\*\}', r'{\1}', r['path']), r['method'].lower()))
    oas_path = re.sub(r'\{(\w+)\*\}', r'{\1}', r['path'])
    method = r['method'].lower()
    src = (ref['paths'].get(oas_path) or {}).get(method)
    op = {}
    if src:
        op['operationId'] = src.get('operationId')
        op['summary'] = src.get('summary', '')
        params = []
        for p in src.get('parameters', []):
            q = {'name': p['name'], 'in': p['in']}
            if p.get('required'):
                q['required'] = True
            if p['in'] != 'body':
                q['schema'] = {k: v for k, v in p.items() if k in ('type', 'default', 'enum')}
            params.append(q)
        if params:
            op['parameters'] = params
        op['responses'] = {str(code): {'description': (v or {}).get('description', '')} for code, v in src.get('responses', {}).items()}
    else:
        op['summary'] = 'HEAD variant of GET' if method == 'head' else ''
        op['x-stevedore-extension'] = True
        op['responses'] = {'200': {'description': 'success'}}
    paths.setdefault(oas_path, {})[method] = op

# Every other operation of the v1.41 API is listed too, marked as not implemented: the
# daemon answers those with Docker's 501 "not implemented" error instead of 404.
for ref_path, ops in ref['paths'].items():
    for method, src in ops.items():
        if method not in ('get', 'head', 'post', 'put', 'delete') or (ref_path, method) in served:
            continue
        paths.setdefault(ref_path, {})[method] = {
            'operationId': src.get('operationId'),
            'summary': src.get('summary', ''),
            'x-stevedore-not-implemented': True,
            'responses': {'501': {'description': 'not implemented by stevedore'}},
        }

doc = {
    'openapi': '3.0.3',
    'info': {
        'title': 'stevedore Engine API',
        'version': '1.41',
        'description': 'The part of the Docker Engine API (v1.41) that stevedore serves. '
                       'Every path is also served under /v{major}.{minor}/ for versions 1.24 to 1.41.',
    },
    'paths': {p: dict(sorted(ops.items())) for p, ops in sorted(paths.items())},
}
out = os.path.join(here, '..', 'openapi', 'engine-api.json')
with open(out, 'w') as f:
    json.dump(doc, f, indent=2, sort_keys=False)
    f.write('\n')
n_all = sum(len(v) for v in paths.values())
print(f'wrote {out}: {len(served)} operations served, {n_all - len(served)} marked not implemented', file=sys.stderr)
