// Administration through the appliance face (/api/rest/configure/v1, root Administrator), the
// same calls `strongroom appliance` makes (crates/cli/src/appliance.rs): the served TLS
// certificate and a CSR, syslog servers, time, services, and support bundles.
import { useState } from 'preact/hooks';
import { APPLIANCE, getJson, request, send } from '../api';
import { Card, Field, Figure, Message, Select, readAll, saveFile, size, useAction, useLoad } from '../ui';
import type { PageProps } from './dashboard';

interface Certificate {
  subject_dn: string;
  issuer_dn: string;
  not_before: number;
  not_after: number;
  thumbprint: string;
  sig_alg_name: string;
  subject_alternative_names: string[];
  trusted: boolean;
}

interface SyslogServer {
  host: string;
  port: number;
  protocol: 'UDP' | 'TCP';
}

interface TimeSettings {
  current_time: number;
  zone: string;
  synchronization: { mode: string };
}

interface Service {
  id: string;
  name: string;
  description: string;
  is_running: boolean;
}

interface Bundle {
  key: string;
  time_created: number;
  size: number;
  md5?: string;
}

interface Task {
  id: string;
  status: string;
  progress: number;
  result?: { key?: string };
  error?: { message?: string };
}

const when = (ms: number) => new Date(ms).toLocaleString();

function TlsCertificate() {
  const cert = useLoad(() => getJson<Certificate>(`${APPLIANCE}/appliance/certificates/server`));
  const [subject, setSubject] = useState({ common_name: '', organization: '', fqdn: '', ip: '' });
  const [csr, setCsr] = useState('');
  const [outcome, busy, act] = useAction();
  const c = cert.data;
  const set = (k: keyof typeof subject) => (v: string) => setSubject((s) => ({ ...s, [k]: v }));
  const daysLeft = c ? Math.floor((c.not_after - Date.now()) / 86_400_000) : 0;
  return (
    <Card title="TLS certificate">
      {cert.error && <p class="error">{cert.error}</p>}
      {c && (
        <dl class="figures">
          <Figure label="Subject" value={c.subject_dn} />
          <Figure label="Issuer" value={c.issuer_dn} />
          <Figure label="Names" value={c.subject_alternative_names.join(', ') || '—'} />
          <Figure label="Valid from" value={when(c.not_before)} />
          <Figure
            label="Expires"
            value={`${when(c.not_after)} (${daysLeft < 0 ? 'expired' : `${daysLeft} days left`})`}
          />
          <Figure label="SHA-256 fingerprint" value={c.thumbprint} />
        </dl>
      )}
      <h3>Certificate signing request</h3>
      <p class="hint">
        A new key is made for the request; the certificate a CA signs for it is installed with{' '}
        <code>strongroom appliance tls install</code>.
      </p>
      <form
        onSubmit={act(async () => {
          const body = Object.fromEntries(Object.entries(subject).filter(([, v]) => v.trim()));
          const r = await send<{ value: string }>('POST', `${APPLIANCE}/appliance/certificates/actions/generate-csr`, body);
          setCsr(r.value);
          return 'CSR made.';
        })}
      >
        <Field label="Common name" value={subject.common_name} onInput={set('common_name')} required />
        <Field label="Organization" value={subject.organization} onInput={set('organization')} />
        <Field label="DNS names" value={subject.fqdn} onInput={set('fqdn')} hint="Separated by commas." />
        <Field label="IP addresses" value={subject.ip} onInput={set('ip')} hint="Separated by commas." />
        <button type="submit" disabled={busy}>
          Generate CSR
        </button>
      </form>
      {csr && (
        <div class="field">
          <label for="tls-csr">CSR (PEM)</label>
          <textarea id="tls-csr" class="pem" readOnly rows={8} value={csr} />
          <button type="button" onClick={() => saveFile([csr], 'strongroom.csr.pem', 'application/x-pem-file')}>
            Save CSR
          </button>
        </div>
      )}
      <Message outcome={outcome} />
    </Card>
  );
}

function Syslog() {
  const servers = useLoad(() =>
    getJson<{ list: SyslogServer[] }>(`${APPLIANCE}/appliance/settings/syslog-servers`).then((r) => r.list),
  );
  const [host, setHost] = useState('');
  const [port, setPort] = useState('514');
  const [protocol, setProtocol] = useState('UDP');
  const [outcome, busy, act] = useAction();
  const list = servers.data ?? [];
  const save = async (next: SyslogServer[]) => {
    await send('PUT', `${APPLIANCE}/appliance/settings/syslog-servers`, next);
    servers.reload();
  };
  return (
    <Card title="Syslog servers">
      {servers.error && <p class="error">{servers.error}</p>}
      {servers.data && list.length === 0 && <p>The logs are sent to no syslog server.</p>}
      {list.length > 0 && (
        <ul class="plain">
          {list.map((s, i) => (
            <li key={`${s.host}:${s.port}/${s.protocol}`}>
              {s.host}:{s.port} ({s.protocol}){' '}
              <button
                type="button"
                class="danger"
                aria-label={`Remove syslog server ${s.host}:${s.port}`}
                disabled={busy}
                onClick={act(async () => {
                  await save(list.filter((_, j) => j !== i));
                  return `Syslog server ${s.host}:${s.port} removed.`;
                })}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        onSubmit={act(async () => {
          const n = Number(port);
          if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error('The port is a number from 1 to 65535.');
          await save([...list, { host: host.trim(), port: n, protocol: protocol as 'UDP' | 'TCP' }]);
          setHost('');
          return `Logs are sent to ${host.trim()}:${n} (${protocol}) too.`;
        })}
      >
        <Field label="Syslog host" value={host} onInput={setHost} required />
        <Field label="Syslog port" value={port} onInput={setPort} type="number" required />
        <Select label="Protocol" value={protocol} onChange={setProtocol} options={[['UDP', 'UDP'], ['TCP', 'TCP']]} />
        <button type="submit" disabled={busy}>
          Add syslog server
        </button>
      </form>
      {list.length > 0 && (
        <button
          type="button"
          disabled={busy}
          onClick={act(async () => {
            await send('POST', `${APPLIANCE}/appliance/settings/syslog-servers/actions/send-test-message`, {
              message: 'Test message from the Strongroom console',
            });
            return 'Test message sent.';
          })}
        >
          Send a test message
        </button>
      )}
      <Message outcome={outcome} />
    </Card>
  );
}

function Time() {
  const settings = useLoad(() => getJson<TimeSettings>(`${APPLIANCE}/appliance/settings/time`));
  const zones = useLoad(() =>
    getJson<{ list: { name: string }[] }>(`${APPLIANCE}/appliance/settings/time/zones?limit=10000`).then((r) =>
      r.list.map((z) => z.name),
    ),
  );
  const [zone, setZone] = useState<string | null>(null);
  const [mode, setMode] = useState<string | null>(null);
  const [outcome, busy, act] = useAction();
  const t = settings.data;
  return (
    <Card title="Time">
      {settings.error && <p class="error">{settings.error}</p>}
      {t && (
        <>
          <dl class="figures">
            <Figure label="Appliance time" value={new Date(t.current_time).toISOString()} />
            <Figure label="Time zone" value={t.zone} />
            <Figure label="Synchronization" value={t.synchronization.mode} />
          </dl>
          <form
            onSubmit={act(async () => {
              const body: Record<string, unknown> = {};
              if (zone !== null && zone !== t.zone) body.zone = zone;
              if (mode !== null && mode !== t.synchronization.mode) body.synchronization = { mode };
              if (!Object.keys(body).length) return 'Nothing changed.';
              await send('PUT', `${APPLIANCE}/appliance/settings/time`, body);
              settings.reload();
              return 'Time settings saved.';
            })}
          >
            {zones.data && (
              <Select
                label="Time zone"
                value={zone ?? t.zone}
                onChange={setZone}
                options={zones.data.map((z) => [z, z])}
              />
            )}
            <Select
              label="Synchronization"
              value={mode ?? t.synchronization.mode}
              onChange={setMode}
              options={[
                ['HOST', 'With the host'],
                ['DISABLED', 'None'],
              ]}
            />
            <button type="submit" disabled={busy}>
              Save time settings
            </button>
          </form>
        </>
      )}
      <Message outcome={outcome} />
    </Card>
  );
}

function Services() {
  const services = useLoad(() => getJson<{ list: Service[] }>(`${APPLIANCE}/services`).then((r) => r.list));
  const [outcome, busy, act] = useAction();
  const action = (s: Service, what: 'start' | 'stop' | 'restart', done: string) =>
    act(async () => {
      if (what === 'stop' && !confirm(`Stop ${s.name}? Its requests are refused until it starts again.`)) {
        return 'Nothing stopped.';
      }
      await send('POST', `${APPLIANCE}/services/${encodeURIComponent(s.id)}/actions/${what}`);
      services.reload();
      return `${s.name} ${done}.`;
    });
  return (
    <Card title="Services" wide>
      {services.error && <p class="error">{services.error}</p>}
      {services.data && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Services</caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">What it does</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {services.data.map((s) => (
                <tr key={s.id}>
                  <th scope="row">{s.name}</th>
                  <td>{s.description}</td>
                  <td class={s.is_running ? 'ok' : 'error'}>{s.is_running ? 'running' : 'stopped'}</td>
                  <td class="actions">
                    {s.is_running ? (
                      <>
                        <button type="button" disabled={busy} aria-label={`Restart ${s.name}`} onClick={action(s, 'restart', 'restarted')}>
                          Restart
                        </button>{' '}
                        <button type="button" class="danger" disabled={busy} aria-label={`Stop ${s.name}`} onClick={action(s, 'stop', 'stopped')}>
                          Stop
                        </button>
                      </>
                    ) : (
                      <button type="button" disabled={busy} aria-label={`Start ${s.name}`} onClick={action(s, 'start', 'started')}>
                        Start
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Message outcome={outcome} />
    </Card>
  );
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function SupportBundles() {
  const bundles = useLoad(() => getJson<{ list: Bundle[] }>(`${APPLIANCE}/support-bundles`).then((r) => r.list));
  const [progress, setProgress] = useState<number | null>(null);
  const [outcome, busy, act] = useAction();
  const list = bundles.data ?? [];
  return (
    <Card title="Support bundles" wide>
      <p>
        A support bundle holds the appliance’s state, configuration, metrics and recent logs for
        a support case; it holds no secret. Bundles are kept in memory: the last 5 made since the
        server started.
      </p>
      <button
        type="button"
        disabled={busy}
        onClick={act(async () => {
          let task = await send<Task>('POST', `${APPLIANCE}/support-bundles`);
          setProgress(0);
          // The bundle is made by a task; its progress is followed as the CLI does.
          while (task.status === 'QUEUED' || task.status === 'RUNNING') {
            await wait(300);
            task = await getJson<Task>(`${APPLIANCE}/tasks/${encodeURIComponent(task.id)}`);
            setProgress(task.progress);
          }
          setProgress(null);
          bundles.reload();
          if (task.status !== 'SUCCESS') throw new Error(task.error?.message ?? `The task ended ${task.status}.`);
          return `Support bundle ${task.result?.key ?? ''} made.`;
        })}
      >
        Create a support bundle
      </button>
      {progress !== null && (
        <div class="progress">
          <label for="bundle-progress">Making the bundle</label>
          <progress id="bundle-progress" max={100} value={progress} />
          <span>{progress} %</span>
        </div>
      )}
      {bundles.error && <p class="error">{bundles.error}</p>}
      {bundles.data && list.length === 0 && <p>No support bundle is kept.</p>}
      {list.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Support bundles</caption>
            <thead>
              <tr>
                <th scope="col">Bundle</th>
                <th scope="col">Made</th>
                <th scope="col">Size</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((b) => (
                <tr key={b.key}>
                  <th scope="row" class="target">
                    {b.key}
                  </th>
                  <td>{when(b.time_created)}</td>
                  <td>{size(b.size)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={`Download support bundle ${b.key}`}
                      onClick={act(async () => {
                        const r = await request('GET', `${APPLIANCE}/support-bundles/${encodeURIComponent(b.key)}`, {
                          accept: 'application/x-tar, application/octet-stream;q=0.5',
                        });
                        const chunks = await readAll(r, () => {});
                        saveFile(chunks as BlobPart[], `${b.key}.tar`, 'application/x-tar');
                        return `Support bundle ${b.key} downloaded.`;
                      })}
                    >
                      Download
                    </button>{' '}
                    <button
                      type="button"
                      class="danger"
                      disabled={busy}
                      aria-label={`Delete support bundle ${b.key}`}
                      onClick={act(async () => {
                        if (!confirm(`Delete the support bundle ${b.key}?`)) return 'Nothing deleted.';
                        await send('DELETE', `${APPLIANCE}/support-bundles/${encodeURIComponent(b.key)}`);
                        bundles.reload();
                        return `Support bundle ${b.key} deleted.`;
                      })}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Message outcome={outcome} />
    </Card>
  );
}

export function Administration({ session }: PageProps) {
  if (session.role !== 'Administrator' || session.namespace) {
    return (
      <p>
        The appliance’s administration is for the root Administrator (an Administrator of no
        namespace): sign in as one to see it.
      </p>
    );
  }
  return (
    <div class="grid">
      <TlsCertificate />
      <Syslog />
      <Time />
      <Services />
      <SupportBundles />
    </div>
  );
}
