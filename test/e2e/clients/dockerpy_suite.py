#!/usr/bin/python3
"""docker-py end to end: one step per run, driven by test/e2e/dockerpy.test.ts.

Usage: /usr/bin/python3 dockerpy_suite.py STEP [ARGS_JSON]

Runs against DOCKER_HOST with Debian's python3-docker (docker-py 5.0.3) and the
client's own defaults: the API version asked of the daemon (`version='auto'`, what
`docker.from_env()` does), or pinned with DOCKERPY_API_VERSION. A step drives one area
of the SDK and prints ONE JSON object on stdout: what the client observed. The
TypeScript test asserts on it; this file only observes, and cleans up what it made
(also when a call fails: the error is then reported as {"error": ...}).
"""
import io
import json
import os
import secrets
import select
import socket
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import urllib.request

import docker
import docker.errors
import docker.types
from docker.utils import socket as dsocket

SUFFIX = secrets.token_hex(4)
BUSYBOX = 'busybox:latest'


def client():
    # DOCKERPY_API_VERSION pins the version as a user's `version=` does; by default the
    # client asks the daemon ('auto', what docker.from_env() does)
    return docker.from_env(timeout=60, version=os.environ.get('DOCKERPY_API_VERSION') or 'auto')


def err_info(e):
    """What a client sees of an error: its class, HTTP status and explanation."""
    out = {'type': type(e).__name__}
    if isinstance(e, docker.errors.APIError):
        out['status'] = e.status_code
        out['explanation'] = e.explanation if isinstance(e.explanation, str) else str(e.explanation)
    elif isinstance(e, docker.errors.ContainerError):
        out['exit_status'] = e.exit_status
        out['stderr'] = e.stderr.decode(errors='replace') if isinstance(e.stderr, bytes) else e.stderr
    else:
        out['message'] = str(e)
    return out


def expect_error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 — the class is what we report
        return err_info(e)
    return None


def text(b):
    return b.decode(errors='replace') if isinstance(b, (bytes, bytearray)) else b


def one_file_tar(name, data):
    """An uncompressed tar archive (bytes) holding one regular file `name` with `data`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tf:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class Cleanup:
    """Removes what a step made, in reverse order, whatever happened."""

    def __init__(self, c):
        self.c = c
        self.containers = []
        self.images = []
        self.volumes = []
        self.networks = []

    def run(self):
        for cid in reversed(self.containers):
            try:
                self.c.api.remove_container(cid, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except Exception:  # noqa: BLE001
                pass
        for n in reversed(self.networks):
            try:
                self.c.api.remove_network(n)
            except Exception:  # noqa: BLE001
                pass
        for v in reversed(self.volumes):
            try:
                self.c.api.remove_volume(v, force=True)
            except Exception:  # noqa: BLE001
                pass
        for i in reversed(self.images):
            try:
                self.c.api.remove_image(i, force=True)
            except Exception:  # noqa: BLE001
                pass


def run_detached(c, cl, cmd, **kw):
    ct = c.containers.run(BUSYBOX, cmd, detach=True, **kw)
    cl.containers.append(ct.id)
    return ct


# ------------------------------------------------------------------------------ steps

def step_containers(c, cl, args):
    out = {}
    labels = {'suite': 'py', 'run': SUFFIX}
    # run detach, wait, logs (both streams, each alone), inspect attrs
    name = f'py-ct-{SUFFIX}'
    ct = run_detached(c, cl, ['sh', '-c', 'echo hello-out; echo hello-err >&2; exit 3'], name=name, labels=labels,
                      environment={'PYVAR': 'v1'}, working_dir='/tmp')
    out['wait'] = ct.wait(timeout=30)
    out['logs_both'] = text(ct.logs())
    out['logs_stdout'] = text(ct.logs(stdout=True, stderr=False))
    out['logs_stderr'] = text(ct.logs(stdout=False, stderr=True))
    ct.reload()
    a = ct.attrs
    out['attrs'] = {
        'Name': a.get('Name'),
        'status': ct.status,
        'name': ct.name,
        'ExitCode': a['State'].get('ExitCode'),
        'Running': a['State'].get('Running'),
        'Labels': ct.labels,
        'Env_has_PYVAR': 'PYVAR=v1' in (a['Config'].get('Env') or []),
        'WorkingDir': a['Config'].get('WorkingDir'),
        'Image_tags': ct.image.tags,
        'Cmd': a['Config'].get('Cmd'),
        'id_len': len(ct.id),
        'short_id': ct.short_id,
    }
    # a sleeper: list with filters
    sl = run_detached(c, cl, ['sleep', '1000'], name=f'py-sleeper-{SUFFIX}', labels={**labels, 'role': 'sleeper'})
    ids = lambda lst: sorted(x.id for x in lst)  # noqa: E731
    out['list'] = {
        'running_label_run': ids(c.containers.list(filters={'label': f'run={SUFFIX}'})),
        'all_label_run': ids(c.containers.list(all=True, filters={'label': f'run={SUFFIX}'})),
        'all_label_list_form': ids(c.containers.list(all=True, filters={'label': [f'run={SUFFIX}', 'role=sleeper']})),
        'exited': ids(c.containers.list(all=True, filters={'status': 'exited', 'label': f'run={SUFFIX}'})),
        'by_name': ids(c.containers.list(all=True, filters={'name': name})),
        'by_id': ids(c.containers.list(all=True, filters={'id': sl.id})),
        'ancestor': ids(c.containers.list(all=True, filters={'ancestor': 'busybox', 'label': f'run={SUFFIX}'})),
        'limit1': len(c.containers.list(all=True, limit=1)),
    }
    out['ids'] = {'exited': ct.id, 'sleeper': sl.id}
    # stop: sleep as pid 1 ignores SIGTERM, so the timeout's SIGKILL ends it
    sl.stop(timeout=1)
    sl.reload()
    out['after_stop'] = {'status': sl.status, 'ExitCode': sl.attrs['State']['ExitCode']}
    sl.start()
    sl.reload()
    out['after_restart'] = sl.status
    sl.kill(signal='SIGKILL')
    out['wait_after_kill'] = sl.wait(timeout=30)
    sl.reload()
    out['after_kill'] = sl.status
    # kill of a stopped container is a conflict
    out['kill_stopped'] = expect_error(lambda: sl.kill())
    # remove; a running one needs force
    sl.remove()
    out['get_removed'] = expect_error(lambda: c.containers.get(sl.id))
    rn = run_detached(c, cl, ['sleep', '1000'], labels=labels)
    out['remove_running'] = expect_error(lambda: rn.remove())
    rn.remove(force=True)
    out['get_force_removed'] = expect_error(lambda: c.containers.get(rn.id))
    # run attached: output returned; non-zero exit raises ContainerError; remove=True leaves nothing
    out['run_attached'] = text(c.containers.run(BUSYBOX, ['echo', 'attached-out'], remove=True, labels=labels))
    out['run_failing'] = expect_error(lambda: c.containers.run(BUSYBOX, ['sh', '-c', 'echo boom >&2; exit 2'], remove=True, labels=labels))
    out['left_after_remove'] = len(c.containers.list(all=True, filters={'label': f'run={SUFFIX}'}))
    out['get_missing'] = expect_error(lambda: c.containers.get(f'nope-{SUFFIX}'))
    ct.remove()
    return out


def step_containers_more(c, cl, args):
    """The rest of the Container model: top, stats, pause, rename, update, archives, diff, commit, attach, export."""
    out = {}
    info, ver = c.info(), c.version()
    out['info'] = {'OSType': info.get('OSType'), 'has_ServerVersion': bool(info.get('ServerVersion')),
                   'Containers_type': type(info.get('Containers')).__name__}
    out['version'] = {'ApiVersion': ver.get('ApiVersion'), 'Os': ver.get('Os'), 'has_Components': isinstance(ver.get('Components'), list)}
    ct = run_detached(c, cl, ['sh', '-c', 'echo started; exec sleep 1000'], labels={'suite': 'py'}, name=f'py-more-{SUFFIX}')
    # the process may still be runc's init for a moment after start returned: bounded retries
    for _ in range(100):
        top = ct.top()
        out['top'] = {'Titles': top.get('Titles'), 'cmds': [p[-1] for p in top.get('Processes') or []]}
        if out['top']['cmds'] == ['sleep 1000']:
            break
        time.sleep(0.05)
    st = ct.stats(stream=False)
    out['stats'] = {'has_memory': 'usage' in (st.get('memory_stats') or {}), 'has_cpu': 'cpu_usage' in (st.get('cpu_stats') or {}),
                    'name': st.get('name'), 'id_ok': st.get('id') == ct.id}
    gen = ct.stats(decode=True)
    first = next(gen)
    gen.close()
    out['stats_stream_first_keys'] = sorted(k for k in ('read', 'cpu_stats', 'memory_stats', 'pids_stats') if k in first)
    ct.pause()
    ct.reload()
    out['paused'] = {'status': ct.status, 'Paused': ct.attrs['State']['Paused']}
    out['exec_paused'] = expect_error(lambda: ct.exec_run(['true']))
    ct.unpause()
    ct.reload()
    out['unpaused'] = ct.status
    ct.rename(f'py-renamed-{SUFFIX}')
    ct.reload()
    out['renamed'] = ct.name
    ct.update(mem_limit='64m', memswap_limit='128m')
    ct.reload()
    out['updated_memory'] = ct.attrs['HostConfig'].get('Memory')
    # put_archive / get_archive
    out['put_archive'] = ct.put_archive('/tmp', one_file_tar('put.txt', b'from-put-archive\n'))
    out['cat_put'] = text(ct.exec_run(['cat', '/tmp/put.txt']).output)
    bits, stat = ct.get_archive('/tmp/put.txt')
    raw = b''.join(bits)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        m = tf.getmember('put.txt')
        out['get_archive'] = {'name': stat.get('name'), 'size': stat.get('size'), 'content': text(tf.extractfile(m).read())}
    out['get_archive_missing'] = expect_error(lambda: ct.get_archive('/nonexistent'))
    # diff and commit
    ct.exec_run(['sh', '-c', 'mkdir -p /added && echo x > /added/f'])
    out['diff'] = sorted((d['Path'], d['Kind']) for d in ct.diff() if d['Path'].startswith('/added') or d['Path'] == '/tmp/put.txt')
    img = ct.commit(repository=f'pycommit-{SUFFIX}', tag='1', changes=['LABEL committed=yes', 'CMD ["cat", "/added/f"]'], message='by py')
    cl.images.append(img.id)
    out['commit'] = {'tags': img.tags, 'label': img.labels.get('committed'), 'run': text(c.containers.run(img.id, remove=True))}
    # attach: a stream of what the container writes from now on
    at = run_detached(c, cl, ['sh', '-c', 'sleep 0.5; echo attached-1; echo attached-2 >&2'], labels={'suite': 'py'})
    got = b''.join(at.attach(stream=True, logs=False, stdout=True, stderr=True))
    out['attach'] = text(got)
    # the attach stream ends when the container's output does; its logs are complete once it exited
    at.wait(timeout=30)
    # docker-py reads the upgrade's headers through a buffered reader and the stream from
    # the raw socket: what arrived with the headers is lost (on Docker 20.10 too, now and
    # then; docs/clients.md). The log is complete: asked again, a few times at most.
    for _ in range(5):
        out['attach_logs'] = text(at.attach(stream=False, logs=True, stdout=True, stderr=False))
        if out['attach_logs']:
            break
    # export: a tar of the file system
    ex = b''.join(ct.export())
    with tarfile.open(fileobj=io.BytesIO(ex)) as tf:
        names = tf.getnames()
    out['export_has'] = sorted(n for n in names if n.lstrip('./') in ('bin/busybox', 'tmp/put.txt', 'added/f'))
    ct.remove(force=True)
    c.images.remove(img.id, force=True)
    # a published port on a random host port of 127.0.0.1, reached from here
    web = run_detached(c, cl, ['sh', '-c', 'mkdir -p /www && echo py-web > /www/index.html && exec httpd -f -p 8080 -h /www'],
                       ports={'8080/tcp': ('127.0.0.1', None)}, labels={'suite': 'py'})
    web.reload()
    out['ports'] = web.ports
    binding = (web.ports.get('8080/tcp') or [{}])[0]
    body = None
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{binding.get('HostPort')}/", timeout=3) as resp:
                body = resp.read().decode()
            break
        except OSError:
            time.sleep(0.1)
    out['http'] = body
    web.remove(force=True)
    # a health check: starting, then healthy (bounded wait)
    hc = run_detached(c, cl, ['sleep', '1000'], labels={'suite': 'py'},
                      healthcheck={'test': ['CMD-SHELL', 'test -e /tmp/ok'], 'interval': 100_000_000, 'timeout': 2_000_000_000, 'retries': 3})
    hc.reload()
    out['health_first'] = hc.attrs['State'].get('Health', {}).get('Status')
    hc.exec_run(['touch', '/tmp/ok'])
    status = None
    for _ in range(200):
        hc.reload()
        status = hc.attrs['State'].get('Health', {}).get('Status')
        if status == 'healthy':
            break
        time.sleep(0.05)
    out['health_later'] = status
    out['health_log_exit'] = [x.get('ExitCode') for x in hc.attrs['State']['Health'].get('Log') or []][-1:]
    out['health_filter'] = [x.id == hc.id for x in c.containers.list(filters={'health': 'healthy', 'label': 'suite=py'})]
    hc.remove(force=True)
    return out


def step_create_options(c, cl, args):
    """HostConfig and Config options as docker-py sends them, each observed from inside."""
    out = {}
    sh = lambda script, **kw: text(c.containers.run(BUSYBOX, ['sh', '-c', script], remove=True, **kw))  # noqa: E731
    out['read_only'] = sh('touch /x 2>/dev/null && echo writable || echo read-only; touch /t/x && echo tmpfs-ok',
                          read_only=True, tmpfs={'/t': 'size=1m'})
    out['tmpfs_mount'] = sh('grep " /t " /proc/mounts | cut -d" " -f3,4', tmpfs={'/t': 'size=1m,mode=1777'})
    out['extra_hosts'] = sh('grep pyhost /etc/hosts', extra_hosts={'pyhost': '10.1.2.3'})
    out['dns'] = sh('grep -E "^(nameserver|search|options)" /etc/resolv.conf', dns=['10.9.9.9'], dns_search=['py.example'], dns_opt=['ndots:3'])
    out['hostname'] = sh('hostname; cat /etc/hostname', hostname='pyhost', domainname='py.example')
    out['cap_drop'] = sh('chown 1 /tmp && echo chown-ok || echo chown-denied', cap_drop=['CHOWN'])
    out['cap_add'] = sh('grep CapEff /proc/self/status', cap_add=['NET_ADMIN'])
    out['cap_default'] = sh('grep CapEff /proc/self/status')
    out['ulimits'] = sh('ulimit -n', ulimits=[docker.types.Ulimit(name='nofile', soft=512, hard=1024)])
    out['shm'] = sh('df -k /dev/shm | tail -1 | awk \'{print $2}\'', shm_size='8m')
    out['init'] = sh('cat /proc/1/comm', init=True)
    out['user_group'] = sh('id -u; id -g; id -G', user='33:33', group_add=['100'])
    out['env_workdir'] = sh('echo $A-$B; pwd', environment=['A=1', 'B=two'], working_dir='/var')
    out['sysctls'] = sh('cat /proc/sys/net/ipv4/ip_unprivileged_port_start', sysctls={'net.ipv4.ip_unprivileged_port_start': '1000'})
    # (no privileged run: on machines whose root lacks a capability in its bounding set, as
    # these VMs lack CAP_SYS_RESOURCE, runc refuses every privileged container, Docker's too)
    out['entrypoint'] = text(c.containers.run(BUSYBOX, ['a', 'b'], entrypoint=['echo', 'ep'], remove=True))
    # restart policy: on-failure with a maximum, seen in RestartCount (bounded wait)
    rc = c.containers.run(BUSYBOX, ['sh', '-c', 'exit 1'], detach=True, restart_policy={'Name': 'on-failure', 'MaximumRetryCount': 2})
    cl.containers.append(rc.id)
    for _ in range(300):
        rc.reload()
        if rc.attrs['RestartCount'] >= 2 and rc.status == 'exited':
            break
        time.sleep(0.05)
    out['restart'] = {'RestartCount': rc.attrs['RestartCount'], 'status': rc.status, 'Policy': rc.attrs['HostConfig']['RestartPolicy']}
    rc.remove(force=True)
    # inspect of what was asked
    ct = c.containers.create(BUSYBOX, ['true'], mem_limit='32m', cpu_shares=512, log_config={'type': 'json-file', 'config': {'max-size': '1m'}},
                             labels={'suite': 'py'}, stop_signal='SIGUSR1', security_opt=['no-new-privileges'],
                             oom_score_adj=100, pids_limit=64)
    cl.containers.append(ct.id)
    hc = ct.attrs['HostConfig']
    out['inspect'] = {'Memory': hc.get('Memory'), 'CpuShares': hc.get('CpuShares'), 'LogConfig': hc.get('LogConfig'),
                      'StopSignal': ct.attrs['Config'].get('StopSignal'),
                      'SecurityOpt': hc.get('SecurityOpt'), 'OomScoreAdj': hc.get('OomScoreAdj'), 'PidsLimit': hc.get('PidsLimit')}
    ct.remove()
    # wait conditions: next-exit and removed
    w = c.containers.run(BUSYBOX, ['sh', '-c', 'sleep 0.3'], detach=True, auto_remove=True)
    cl.containers.append(w.id)
    out['wait_removed'] = w.wait(condition='removed', timeout=30)
    out['gone_after_auto_remove'] = expect_error(lambda: c.containers.get(w.id))
    # run(stream=True): the logs as a generator while it runs
    out['run_stream'] = ''.join(text(x) for x in c.containers.run(BUSYBOX, ['sh', '-c', 'echo s1; sleep 0.2; echo s2'], stream=True, remove=True))
    # attach_socket with stdin: what goes in comes back out of cat, framed (no tty)
    at = c.containers.run(BUSYBOX, ['cat'], detach=True, stdin_open=True)
    cl.containers.append(at.id)
    sock = c.api.attach_socket(at.id, params={'stdin': 1, 'stdout': 1, 'stderr': 1, 'stream': 1})
    raw = sock._sock if hasattr(sock, '_sock') else sock
    raw.sendall(b'through-attach\n')
    stream, size = dsocket.next_frame_header(sock)
    out['attach_socket'] = [stream, text(dsocket.read_exactly(sock, size)) if size > 0 else None]
    raw.shutdown(socket.SHUT_WR)
    sock.close()
    at.remove(force=True)
    return out


def step_exec(c, cl, args):
    out = {}
    ct = run_detached(c, cl, ['sleep', '1000'], labels={'suite': 'py'})
    cmd = ['sh', '-c', 'echo exec-out; echo exec-err >&2; exit 4']
    r = ct.exec_run(cmd)
    out['plain'] = {'exit_code': r.exit_code, 'output': text(r.output)}
    r = ct.exec_run(cmd, demux=True)
    out['demux'] = {'exit_code': r.exit_code, 'stdout': text(r.output[0]), 'stderr': text(r.output[1])}
    r = ct.exec_run(cmd, stdout=True, stderr=False)
    out['stdout_only'] = {'exit_code': r.exit_code, 'output': text(r.output)}
    r = ct.exec_run(['sh', '-c', 'tty; echo line2'], tty=True)
    out['tty'] = {'exit_code': r.exit_code, 'output': text(r.output)}
    r = ct.exec_run(['sh', '-c', 'tty || true'])
    out['no_tty'] = {'exit_code': r.exit_code, 'output': text(r.output)}
    r = ct.exec_run(['sh', '-c', 'echo $PYE; pwd; id -u'], environment={'PYE': 'env-ok'}, workdir='/tmp', user='www-data')
    out['env_workdir_user'] = {'exit_code': r.exit_code, 'output': text(r.output)}
    # stream=True: a generator of chunks; the exit code through exec_inspect
    eid = c.api.exec_create(ct.id, ['sh', '-c', 'for i in 1 2 3; do echo s$i; sleep 0.1; done; exit 5'])['Id']
    chunks = [text(x) for x in c.api.exec_start(eid, stream=True)]
    insp = c.api.exec_inspect(eid)
    out['stream'] = {'joined': ''.join(chunks), 'chunks': len(chunks), 'ExitCode': insp['ExitCode'], 'Running': insp['Running']}
    r = ct.exec_run(['sh', '-c', 'echo a; echo b >&2'], stream=True, demux=True)
    got_out, got_err = b'', b''
    for o, e in r.output:
        got_out += o or b''
        got_err += e or b''
    out['stream_demux'] = {'exit_code': r.exit_code, 'stdout': text(got_out), 'stderr': text(got_err)}
    # socket=True, no tty: the raw hijacked socket carries stdcopy frames; stdin goes the other way
    r = ct.exec_run(['sh', '-c', 'read line; echo got:$line; echo err:$line >&2; cat'], stdin=True, socket=True)
    sock = r.output
    raw_sock = sock._sock if hasattr(sock, '_sock') else sock
    raw_sock.sendall(b'hello-sock\nrest-of-input\n')
    raw_sock.shutdown(socket.SHUT_WR)  # the process sees EOF on stdin
    frames = []
    while True:
        stream, size = dsocket.next_frame_header(sock)
        if stream == -1:
            break
        frames.append([stream, text(dsocket.read_exactly(sock, size))])
    sock.close()
    out['socket'] = {'frames': frames}
    # socket=True with a tty: raw bytes, no framing
    eid = c.api.exec_create(ct.id, ['sh', '-c', 'read line; echo tty:$line'], stdin=True, tty=True)['Id']
    sock = c.api.exec_start(eid, tty=True, socket=True)
    raw_sock = sock._sock if hasattr(sock, '_sock') else sock
    raw_sock.sendall(b'typed\n')
    data = b''
    while True:
        chunk = dsocket.read(sock, 4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    out['socket_tty'] = {'raw': text(data), 'ExitCode': wait_exec(c, eid)}
    # exec in a stopped container is a conflict
    ct.kill()
    ct.wait(timeout=30)
    out['exec_stopped'] = expect_error(lambda: ct.exec_run(['true']))
    return out


def wait_exec(c, eid):
    """The exec's exit code once it is no longer running (bounded)."""
    for _ in range(200):
        i = c.api.exec_inspect(eid)
        if not i['Running']:
            return i['ExitCode']
        time.sleep(0.05)
    return None


def step_logs(c, cl, args):
    out = {}
    ct = run_detached(c, cl, ['sh', '-c', 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.05; done'], labels={'suite': 'py'})
    # follow=True: a generator; read until line 5, then hang up mid-stream (several times)
    seen_runs = []
    for _ in range(5):
        gen = ct.logs(stream=True, follow=True)
        buf = ''
        for chunk in gen:
            buf += text(chunk)
            if 'line 5\n' in buf:
                break
        gen.close()
        seen_runs.append(buf.split('\n')[:6])
    out['follow_first_lines'] = seen_runs
    # a client that leaves without reading: the socket closes under the daemon's writes
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.environ['DOCKER_HOST'][len('unix://'):])
        s.sendall(f'GET /containers/{ct.id}/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\n\r\n'.encode())
        select.select([s], [], [], 5)
        s.recv(16)
        s.close()
    # the daemon is fine: answers, the container runs, logs still come
    out['ping_after'] = c.ping()
    ct.reload()
    out['status_after'] = ct.status
    out['tail2'] = text(ct.logs(tail=2))
    ts = text(ct.logs(tail=1, timestamps=True))
    out['timestamped'] = ts
    # follow with since: only what came after
    t0 = int(time.time())
    gen = ct.logs(stream=True, follow=True, since=t0 + 1, timestamps=True)
    first = ''
    for chunk in gen:
        first += text(chunk)
        if '\n' in first:
            break
    gen.close()
    out['since_first'] = first.split('\n')[0]
    out['since_t0'] = t0
    # follow of a container that ends: the generator ends by itself
    fin = run_detached(c, cl, ['sh', '-c', 'echo a; sleep 0.3; echo b; echo c >&2'], labels={'suite': 'py'})
    out['follow_to_end'] = ''.join(text(x) for x in fin.logs(stream=True, follow=True))
    out['follow_to_end_stdout'] = ''.join(text(x) for x in fin.logs(stream=True, follow=True, stderr=False))
    return out


def make_context(d, content):
    with open(os.path.join(d, 'Dockerfile'), 'w') as f:
        f.write('FROM busybox\n'
                'ARG GREETING=none\n'
                'LABEL suite=py\n'
                'RUN echo "$GREETING" > /greeting\n'
                'COPY file.txt /file.txt\n'
                'CMD ["cat", "/greeting", "/file.txt"]\n')
    with open(os.path.join(d, 'file.txt'), 'w') as f:
        f.write(content)


def step_images(c, cl, args):
    out = {}
    reg = args['registry']
    repo = f'pyimg-{SUFFIX}'
    with tempfile.TemporaryDirectory() as d:
        make_context(d, 'file-one\n')
        img, logs = c.images.build(path=d, buildargs={'GREETING': 'hello-py'}, tag=f'{repo}:1', rm=True, labels={'built-by': 'py'})
        cl.images.append(img.id)
        logs = list(logs)
    out['build'] = {
        'tags': img.tags,
        'labels': img.labels,
        'stream_has_success': any('Successfully built' in (x.get('stream') or '') for x in logs),
        'stream_has_tagged': any(f'Successfully tagged {repo}:1' in (x.get('stream') or '') for x in logs),
        'aux_ids': [x['aux']['ID'] for x in logs if 'aux' in x and 'ID' in x['aux']],
        'errors': [x for x in logs if 'error' in x or 'errorDetail' in x],
        'id': img.id,
    }
    out['build_run'] = text(c.containers.run(f'{repo}:1', remove=True))
    # a build that fails: BuildError with the message
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'Dockerfile'), 'w') as f:
            f.write('FROM busybox\nRUN exit 7\n')
        out['build_fail'] = expect_error(lambda: c.images.build(path=d, tag=f'{repo}:bad', rm=True))
    # build from a file object holding a tar context (custom_context)
    buf = io.BytesIO(one_file_tar('Dockerfile', b'FROM busybox\nCMD ["echo", "from-fileobj"]\n'))
    img2, _ = c.images.build(fileobj=buf, custom_context=True, tag=f'{repo}:fileobj')
    cl.images.append(img2.id)
    out['build_fileobj_run'] = text(c.containers.run(f'{repo}:fileobj', remove=True))
    # tag, list
    out['tag'] = img.tag(f'{reg}/py/{repo}', tag='v1')
    img.reload()
    out['tags_after_tag'] = sorted(img.tags)
    out['list_name'] = sorted(t for i in c.images.list(name=repo) for t in i.tags)
    out['list_label'] = sorted(t for i in c.images.list(filters={'label': 'built-by=py'}) for t in i.tags)
    out['get_short_id'] = c.images.get(img.short_id).id
    out['history_len'] = len(img.history())
    # push through the harness registry; progress as decoded JSON
    push = list(c.images.push(f'{reg}/py/{repo}', tag='v1', stream=True, decode=True))
    out['push'] = {
        'errors': [x for x in push if 'error' in x],
        'digest': next((x['aux'].get('Digest') for x in push if 'aux' in x), None),
        'statuses': sorted({x.get('status', '') for x in push if 'status' in x and 'id' not in x}),
    }
    # registry data through the daemon (/distribution)
    rd = c.images.get_registry_data(f'{reg}/py/{repo}:v1')
    out['registry_data'] = {'digest': rd.id, 'platform_ok': rd.has_platform('linux/amd64')}
    # remove the local name, pull it back
    c.images.remove(f'{reg}/py/{repo}:v1')
    pulled = c.images.pull(f'{reg}/py/{repo}', tag='v1')
    out['pull'] = {'id': pulled.id, 'tags': sorted(pulled.tags), 'repo_digests': pulled.attrs.get('RepoDigests')}
    prog = list(c.api.pull(f'{reg}/py/{repo}', tag='v1', stream=True, decode=True))
    out['pull_again_status'] = [x.get('status') for x in prog if 'id' not in x]
    out['pull_missing'] = expect_error(lambda: c.images.pull(f'{reg}/py/nothing-{SUFFIX}', tag='v1'))
    # save → remove → load
    data = b''.join(img.save(named=f'{repo}:1'))
    out['save_bytes'] = len(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        out['save_members'] = sorted(m.name for m in tf.getmembers() if m.name in ('manifest.json', 'repositories'))
    c.images.remove(f'{repo}:1')
    out['get_after_remove'] = expect_error(lambda: c.images.get(f'{repo}:1'))
    loaded = c.images.load(data)
    out['load'] = {'ids': [i.id for i in loaded], 'tags': sorted(t for i in loaded for t in i.tags)}
    out['load_run'] = text(c.containers.run(f'{repo}:1', remove=True))
    # remove: in use by a container → conflict; unknown → ImageNotFound; force
    c.images.remove(f'{reg}/py/{repo}:v1')
    user = c.containers.create(f'{repo}:1')
    cl.containers.append(user.id)
    out['remove_in_use'] = expect_error(lambda: c.images.remove(img.id))
    out['remove_unknown'] = expect_error(lambda: c.images.remove(f'nothing-{SUFFIX}:x'))
    user.remove()
    removed = c.api.remove_image(f'{repo}:1')
    out['remove_result_keys'] = sorted({k for x in removed for k in x})
    out['get_after_delete'] = expect_error(lambda: c.images.get(img.id))
    for ref in (f'{repo}:fileobj',):
        try:
            c.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass
    out['left'] = sorted(t for i in c.images.list() for t in i.tags if repo in t)
    return out


def step_volumes(c, cl, args):
    out = {}
    name = f'pyvol-{SUFFIX}'
    v = c.volumes.create(name=name, driver='local', labels={'suite': 'py', 'run': SUFFIX})
    cl.volumes.append(name)
    a = v.attrs
    out['create'] = {'Name': a.get('Name'), 'Driver': a.get('Driver'), 'Labels': a.get('Labels'), 'Scope': a.get('Scope'),
                     'Mountpoint_set': bool(a.get('Mountpoint'))}
    other = c.volumes.create(name=f'pyvol2-{SUFFIX}', labels={'suite': 'py', 'run': SUFFIX, 'other': '1'})
    cl.volumes.append(other.name)
    names = lambda lst: sorted(x.name for x in lst)  # noqa: E731
    out['list'] = {
        'label': names(c.volumes.list(filters={'label': f'run={SUFFIX}'})),
        'label_kv': names(c.volumes.list(filters={'label': ['other=1', f'run={SUFFIX}']})),
        'name': names(c.volumes.list(filters={'name': f'pyvol2-{SUFFIX}'})),
        'dangling_mine': sorted(n for n in names(c.volumes.list(filters={'dangling': True})) if SUFFIX in n),
    }
    out['get'] = c.volumes.get(name).attrs.get('Labels')
    out['get_missing'] = expect_error(lambda: c.volumes.get(f'nope-{SUFFIX}'))
    # use it: written by one container, read by the next
    c.containers.run(BUSYBOX, ['sh', '-c', 'echo persisted > /data/f'], volumes={name: {'bind': '/data', 'mode': 'rw'}}, remove=True)
    out['read_back'] = text(c.containers.run(BUSYBOX, ['cat', '/data/f'], volumes=[f'{name}:/data:ro'], remove=True))
    holder = c.containers.create(BUSYBOX, ['true'], volumes={name: {'bind': '/data', 'mode': 'rw'}})
    cl.containers.append(holder.id)
    out['dangling_mine_in_use'] = sorted(n for n in names(c.volumes.list(filters={'dangling': True})) if SUFFIX in n)
    out['remove_in_use'] = expect_error(lambda: v.remove())
    # prune, restricted to this run's labels: the volume in use stays
    out['api_version'] = c.api.api_version
    pr = c.volumes.prune(filters={'label': f'run={SUFFIX}'})
    out['prune'] = {'deleted': sorted(pr.get('VolumesDeleted') or []), 'reclaimed_type': type(pr.get('SpaceReclaimed')).__name__}
    holder.remove()
    v.remove()
    out['get_removed'] = expect_error(lambda: c.volumes.get(name))
    # an anonymous volume pruned at every API version
    anon_holder = c.containers.create(BUSYBOX, ['true'], volumes=['/anon'])
    anon = [m['Name'] for m in anon_holder.attrs['Mounts'] if m.get('Destination') == '/anon']
    anon_holder.remove()
    pr = c.volumes.prune()
    out['prune_anon'] = {'anon': anon, 'deleted_has_anon': bool(anon) and anon[0] in (pr.get('VolumesDeleted') or [])}
    for n in (other.name,):
        try:
            c.api.remove_volume(n)
        except docker.errors.NotFound:
            pass
    return out


def step_networks(c, cl, args):
    out = {}
    subnet, other_subnet = args['subnet'], args['otherSubnet']
    base = subnet.rsplit('.', 1)[0]
    name = f'pynet-{SUFFIX}'
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet, gateway=f'{base}.1')])
    n = c.networks.create(name, driver='bridge', ipam=ipam, labels={'suite': 'py', 'run': SUFFIX}, check_duplicate=True)
    cl.networks.append(n.id)
    a = n.attrs
    out['create'] = {'Name': a.get('Name'), 'Driver': a.get('Driver'), 'Labels': a.get('Labels'),
                     'IPAM': [{'Subnet': x.get('Subnet'), 'Gateway': x.get('Gateway')} for x in (a.get('IPAM') or {}).get('Config') or []],
                     'Scope': a.get('Scope'), 'id_len': len(n.id)}
    out['create_duplicate'] = expect_error(lambda: c.networks.create(name, driver='bridge', check_duplicate=True))
    # connect a running container (made without a network of ours) with aliases and a fixed address
    ct = run_detached(c, cl, ['sleep', '1000'], labels={'suite': 'py'})
    n.connect(ct, aliases=['pyalias'], ipv4_address=f'{base}.10')
    ct.reload()
    ep = ct.attrs['NetworkSettings']['Networks'].get(name) or {}
    out['endpoint'] = {'IPAddress': ep.get('IPAddress'), 'Aliases': ep.get('Aliases'), 'NetworkID': ep.get('NetworkID'),
                       'IPAMConfig': ep.get('IPAMConfig'), 'Gateway': ep.get('Gateway')}
    n.reload()
    out['network_containers'] = [x.id for x in n.containers]
    # another container on the network finds the alias
    out['resolve_alias'] = text(c.containers.run(BUSYBOX, ['sh', '-c', 'for i in $(seq 50); do nslookup pyalias && exit 0; sleep 0.1; done; exit 1'],
                                                 network=name, remove=True))
    # list
    ids = lambda lst: sorted(x.id for x in lst)  # noqa: E731
    out['list'] = {
        'names': ids(c.networks.list(names=[name])),
        'ids': ids(c.networks.list(ids=[n.id])),
        'label': ids(c.networks.list(filters={'label': f'run={SUFFIX}'})),
        'driver_has_it': n.id in ids(c.networks.list(filters={'driver': 'bridge'})),
        'custom_has_it': n.id in ids(c.networks.list(filters={'type': 'custom'})),
        'greedy_containers': [list((x.attrs.get('Containers') or {}).keys()) for x in c.networks.list(names=[name], greedy=True)],
    }
    out['remove_in_use'] = expect_error(lambda: n.remove())
    # disconnect
    n.disconnect(ct)
    ct.reload()
    out['after_disconnect'] = sorted(ct.attrs['NetworkSettings']['Networks'].keys())
    n.reload()
    out['network_containers_after'] = [x.id for x in n.containers]
    out['disconnect_again'] = expect_error(lambda: n.disconnect(ct))
    out['get_missing'] = expect_error(lambda: c.networks.get(f'nope-{SUFFIX}'))
    # prune: unused labelled networks go; one in use stays
    spare = c.networks.create(f'pynet2-{SUFFIX}', labels={'suite': 'py', 'run': SUFFIX},
                              ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=other_subnet)]))
    cl.networks.append(spare.id)
    n.connect(ct)
    pr = c.networks.prune(filters={'label': f'run={SUFFIX}'})
    out['prune'] = sorted(pr.get('NetworksDeleted') or [])
    out['names'] = {'main': name, 'spare': spare.name}
    n.disconnect(ct, force=True)
    ct.remove(force=True)
    n.remove()
    out['get_removed'] = expect_error(lambda: c.networks.get(n.id))
    return out


def step_events(c, cl, args):
    out = {}
    label = f'ev={SUFFIX}'
    since = int(time.time()) - 1
    ct = c.containers.run(BUSYBOX, ['true'], detach=True, labels={'suite': 'py', 'ev': SUFFIX}, name=f'py-ev-{SUFFIX}')
    cl.containers.append(ct.id)
    ct.wait(timeout=30)
    ct.remove()
    # until a moment ahead: the stream ends by itself then
    until = int(time.time()) + 1
    evs = list(c.events(since=since, until=until, filters={'label': label, 'type': 'container'}, decode=True))
    out['ct_id'] = ct.id
    # `status`, `id` and `from` are gone at API 1.52: reported as they come (None when absent)
    out['history'] = [{'Type': e.get('Type'), 'Action': e.get('Action'), 'status': e.get('status'), 'id': e.get('id'),
                       'Actor_ID_ok': (e.get('Actor') or {}).get('ID') == ct.id,
                       'name': ((e.get('Actor') or {}).get('Attributes') or {}).get('name'),
                       'label': ((e.get('Actor') or {}).get('Attributes') or {}).get('ev'),
                       'image': ((e.get('Actor') or {}).get('Attributes') or {}).get('image'),
                       'exitCode': ((e.get('Actor') or {}).get('Attributes') or {}).get('exitCode'),
                       'from': e.get('from'), 'time_ok': isinstance(e.get('time'), int) and since <= e['time'] <= until,
                       'timeNano_ok': isinstance(e.get('timeNano'), int) and e['timeNano'] // 10**9 == e.get('time')} for e in evs]
    # an event filter (list form) on the same history
    evs = list(c.events(since=since, until=until, filters={'label': label, 'event': ['start', 'die']}, decode=True))
    out['history_start_die'] = [e.get('Action') for e in evs]
    # raw (undecoded) stream: bytes holding JSON documents
    raw = b''.join(c.events(since=since, until=until, filters={'label': label, 'event': 'destroy'}))
    out['raw_is_bytes'] = isinstance(raw, bytes)
    out['raw_actions'] = [json.loads(line)['Action'] for line in raw.decode().splitlines() if line.strip()]
    # live: a generator opened first sees the next start; close ends it
    gen = c.events(filters={'type': 'container', 'event': 'start', 'label': f'ev2={SUFFIX}'}, decode=True)
    got = {}

    def reader():
        for e in gen:
            got['e'] = e
            break
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    ct2 = c.containers.run(BUSYBOX, ['true'], detach=True, labels={'ev2': SUFFIX})
    cl.containers.append(ct2.id)
    th.join(30)
    gen.close()
    live = got.get('e') or {}
    out['live'] = {'Action': live.get('Action'), 'Actor_ID_ok': (live.get('Actor') or {}).get('ID') == ct2.id}
    ct2.wait(timeout=30)
    ct2.remove()
    # image events: tag and untag, filtered by type and image
    ref = f'py-ev-tag-{SUFFIX}:x'
    s2 = int(time.time()) - 1
    c.images.get(BUSYBOX).tag(ref)
    c.images.remove(ref)
    u2 = int(time.time()) + 1
    evs = list(c.events(since=s2, until=u2, filters={'type': 'image', 'event': ['tag', 'untag']}, decode=True))
    out['image_events'] = [e.get('Action') for e in evs]
    return out


def step_df(c, cl, args):
    out = {}
    vname = f'pydf-{SUFFIX}'
    c.volumes.create(name=vname)
    cl.volumes.append(vname)
    ct = c.containers.create(BUSYBOX, ['true'], volumes={vname: {'bind': '/v', 'mode': 'rw'}}, labels={'suite': 'py'})
    cl.containers.append(ct.id)
    c.containers.run(BUSYBOX, ['sh', '-c', 'head -c 4096 /dev/zero > /v/f'], volumes={vname: {'bind': '/v', 'mode': 'rw'}}, remove=True)
    df = c.df()
    bb = c.images.get(BUSYBOX)
    out['keys'] = sorted(df.keys())
    out['LayersSize_type'] = type(df.get('LayersSize')).__name__
    img = next((i for i in (df.get('Images') or []) if i.get('Id') == bb.id), None)
    out['image'] = img and {'Size_pos': (img.get('Size') or 0) > 0, 'Containers': img.get('Containers'), 'RepoTags': img.get('RepoTags'),
                            'SharedSize_type': type(img.get('SharedSize')).__name__}
    cd = next((x for x in (df.get('Containers') or []) if x.get('Id') == ct.id), None)
    out['container'] = cd and {'Image': cd.get('Image'), 'State': cd.get('State'), 'SizeRootFs_type': type(cd.get('SizeRootFs')).__name__,
                               'SizeRw_type': type(cd.get('SizeRw')).__name__}
    vd = next((x for x in (df.get('Volumes') or []) if x.get('Name') == vname), None)
    out['volume'] = vd and {'UsageData': vd.get('UsageData'), 'Driver': vd.get('Driver')}
    out['BuildCache_type'] = type(df.get('BuildCache')).__name__
    ct.remove()
    return out


def step_prune(c, cl, args):
    out = {}
    tag = f'pyprune-{SUFFIX}'
    # containers: stopped ones with the label go, a running one stays
    dead = c.containers.run(BUSYBOX, ['true'], detach=True, labels={'pr': SUFFIX})
    cl.containers.append(dead.id)
    dead.wait(timeout=30)
    live = run_detached(c, cl, ['sleep', '1000'], labels={'pr': SUFFIX})
    other = c.containers.run(BUSYBOX, ['true'], detach=True, labels={'pr': 'other'})
    cl.containers.append(other.id)
    other.wait(timeout=30)
    pr = c.containers.prune(filters={'label': f'pr={SUFFIX}'})
    out['containers'] = {'deleted': pr.get('ContainersDeleted') or [], 'reclaimed_type': type(pr.get('SpaceReclaimed')).__name__,
                         'dead': dead.id, 'live': live.id, 'other': other.id}
    out['containers_left'] = sorted(x.id for x in c.containers.list(all=True, filters={'label': 'pr'}))
    live.remove(force=True)
    other.remove()
    # images: a rebuilt tag leaves the old image dangling; prune(dangling) removes it
    ids = []
    for content in ('one', 'two'):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, 'Dockerfile'), 'w') as f:
                f.write(f'FROM busybox\nRUN echo {content}-{SUFFIX} > /x\n')
            img, _ = c.images.build(path=d, tag=f'{tag}:1')
            cl.images.append(img.id)
            ids.append(img.id)
    dangling = [i.id for i in c.images.list(filters={'dangling': True})]
    pr = c.images.prune(filters={'dangling': True})
    deleted = pr.get('ImagesDeleted') or []
    out['images'] = {'old': ids[0], 'new': ids[1], 'old_was_dangling': ids[0] in dangling,
                     'deleted_ids': [x.get('Deleted') for x in deleted if x.get('Deleted')],
                     'reclaimed_type': type(pr.get('SpaceReclaimed')).__name__}
    out['images_new_kept'] = c.images.get(f'{tag}:1').id
    # dangling=false: every unused image (here: only ours is unused and unlabelled... restrict by label)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'Dockerfile'), 'w') as f:
            f.write(f'FROM busybox\nLABEL pr={SUFFIX}\nRUN echo three > /x\n')
        img3, _ = c.images.build(path=d, tag=f'{tag}:labelled')
        cl.images.append(img3.id)
    pr = c.images.prune(filters={'dangling': False, 'label': f'pr={SUFFIX}'})
    out['images_all_label'] = {'id': img3.id, 'deleted_ids': [x.get('Deleted') for x in (pr.get('ImagesDeleted') or []) if x.get('Deleted')],
                               'untagged': [x.get('Untagged') for x in (pr.get('ImagesDeleted') or []) if x.get('Untagged')]}
    c.images.remove(f'{tag}:1', force=True)
    # networks
    n = c.networks.create(f'pyprn-{SUFFIX}', labels={'pr': SUFFIX},
                          ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=args['subnet'])]))
    cl.networks.append(n.id)
    pr = c.networks.prune(filters={'label': f'pr={SUFFIX}'})
    out['networks'] = {'deleted': pr.get('NetworksDeleted') or [], 'name': n.name}
    # volumes
    v = c.volumes.create(name=f'pyprv-{SUFFIX}', labels={'pr': SUFFIX})
    cl.volumes.append(v.name)
    holder = c.containers.create(BUSYBOX, ['true'], volumes=['/anon'], labels={'pr': SUFFIX})
    anon = [m['Name'] for m in holder.attrs['Mounts'] if m.get('Destination') == '/anon']
    holder.remove()
    pr = c.volumes.prune()
    out['volumes'] = {'deleted': pr.get('VolumesDeleted') or [], 'named': v.name, 'anon': anon,
                      'reclaimed_type': type(pr.get('SpaceReclaimed')).__name__, 'api_version': c.api.api_version}
    return out


STEPS = {
    'containers': step_containers,
    'containers-more': step_containers_more,
    'create-options': step_create_options,
    'exec': step_exec,
    'logs': step_logs,
    'images': step_images,
    'volumes': step_volumes,
    'networks': step_networks,
    'events': step_events,
    'df': step_df,
    'prune': step_prune,
}


def main():
    step = sys.argv[1]
    args = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    c = client()
    cl = Cleanup(c)
    result = {'step': step, 'docker_py': docker.__version__, 'api_version': c.api.api_version}
    try:
        result['result'] = STEPS[step](c, cl, args)
    except Exception as e:  # noqa: BLE001 — reported to the test, which fails on it
        result['error'] = {**err_info(e), 'traceback': traceback.format_exc()}
    finally:
        cl.run()
        c.close()
    json.dump(result, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
