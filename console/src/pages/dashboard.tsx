// The appliance at a glance. Each figure comes from the route that already serves it, under
// the signed-in account's role: what the role may not read says so rather than guessing.
import { useEffect, useState } from 'preact/hooks';
import { APPLIANCE, NETHSM, type Session, describe, getJson, request, send } from '../api';
import { Card, Message, useAction, useLoad } from '../ui';

export interface PageProps {
  session: Session;
  onLocked: () => void;
}

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function show<T>(l: { data: T | null; error: string | null }, f: (d: T) => string) {
  if (l.error) return `not available: ${l.error}`;
  return l.data === null ? 'loading…' : f(l.data);
}

function duration(seconds: number) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return [d && `${d} d`, (d || h) && `${h} h`, `${m} min`, `${seconds % 60} s`]
    .filter(Boolean)
    .join(' ');
}

/// The SHA-256 fingerprint of the served certificate, as `openssl x509 -fingerprint -sha256`.
async function fingerprint(pem: string) {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

type Metrics = Record<string, string>;
interface Sample {
  at: number;
  requests: number;
  errors: number;
}

function totals(m: Metrics) {
  let requests = 0;
  let errors = 0;
  for (const [key, value] of Object.entries(m)) {
    if (!key.startsWith('http_requests_total.')) continue;
    const n = Number(value) || 0;
    requests += n;
    if (key.endsWith('.4xx') || key.endsWith('.5xx')) errors += n;
  }
  return { requests, errors };
}

/// A line of the last rates, drawn as SVG attributes (the CSP allows no inline style).
function Sparkline({ values, label }: { values: number[]; label: string }) {
  const w = 240;
  const h = 48;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - (v / max) * h).toFixed(1)}`);
  return (
    <svg class="spark" viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-label={label}>
      <polyline fill="none" stroke="currentColor" stroke-width="2" points={points.join(' ')} />
    </svg>
  );
}

function Rates({ session }: { session: Session }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [uptime, setUptime] = useState<number | null>(null);
  useEffect(() => {
    if (session.role !== 'Metrics') return;
    let live = true;
    const poll = async () => {
      try {
        const m = await getJson<Metrics>(`${NETHSM}/metrics`);
        if (!live) return;
        setUptime(Number(m.uptime_seconds));
        setSamples((s) => [...s.slice(-30), { at: Date.now(), ...totals(m) }]);
        setError(null);
      } catch (e) {
        if (live) setError(describe(e));
      }
    };
    poll();
    const timer = setInterval(poll, 5000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [session.role]);
  if (session.role !== 'Metrics') {
    return (
      <p>
        The request and error rates come from the metrics, which only a Metrics account may read:
        sign in as one to see them here.
      </p>
    );
  }
  if (error) return <p class="error">Metrics not available: {error}</p>;
  const rates = samples.slice(1).map((s, i) => {
    const dt = (s.at - samples[i].at) / 1000 || 1;
    return { requests: (s.requests - samples[i].requests) / dt, errors: (s.errors - samples[i].errors) / dt };
  });
  const last = rates[rates.length - 1];
  const fmt = (n: number | undefined) => (n === undefined ? 'measuring…' : `${n.toFixed(2)} per second`);
  return (
    <>
      <dl class="figures">
        <Figure label="Uptime" value={uptime === null ? 'loading…' : duration(uptime)} />
        <Figure label="Requests" value={fmt(last?.requests)} />
        <Figure label="Errors (4xx and 5xx)" value={fmt(last?.errors)} />
      </dl>
      {rates.length > 1 && (
        <div class="charts">
          <Sparkline values={rates.map((r) => r.requests)} label="Requests per second, last minutes" />
          <Sparkline values={rates.map((r) => r.errors)} label="Errors per second, last minutes" />
        </div>
      )}
    </>
  );
}

export function Dashboard({ session, onLocked }: PageProps) {
  const admin = session.role === 'Administrator';
  const info = useLoad(() => getJson<{ softwareVersion: string }>(`${NETHSM}/system/info`));
  const appliance = useLoad(() => getJson<{ system_information?: string }>(`${APPLIANCE}/appliance`));
  const cert = useLoad(async () =>
    fingerprint(await (await request('GET', `${NETHSM}/config/tls/cert.pem`, { accept: 'application/x-pem-file' })).text()),
  );
  const keys = useLoad(() => getJson<unknown[]>(`${NETHSM}/keys`));
  const users = useLoad(() => getJson<unknown[]>(`${NETHSM}/users`));
  const [outcome, busy, act] = useAction();
  const uptime = appliance.data?.system_information?.match(/uptime (\d+) s/)?.[1];

  return (
    <div class="grid">
      <Card title="State">
        <dl class="figures">
          <Figure label="State" value="Operational" />
          <Figure label="Version" value={show(info, (d) => d.softwareVersion)} />
          <Figure
            label="Uptime"
            value={show(appliance, () => (uptime ? duration(Number(uptime)) : 'not reported'))}
          />
        </dl>
        {admin && (
          <form
            onSubmit={act(async () => {
              await send('POST', `${NETHSM}/lock`);
              onLocked();
              return 'Locked.';
            })}
          >
            <p class="hint">Locking seals the store and ends every session, this one included.</p>
            <button type="submit" disabled={busy}>
              Lock the node
            </button>
          </form>
        )}
        <Message outcome={outcome} />
      </Card>
      <Card title="Certificate">
        <dl class="figures">
          <Figure label="SHA-256 fingerprint" value={show(cert, (f) => f)} />
        </dl>
      </Card>
      <Card title="Contents">
        <dl class="figures">
          <Figure label="Keys" value={show(keys, (k) => String(k.length))} />
          <Figure label="Users" value={show(users, (u) => String(u.length))} />
        </dl>
      </Card>
      <Card title="Traffic" wide>
        <Rates session={session} />
      </Card>
    </div>
  );
}
