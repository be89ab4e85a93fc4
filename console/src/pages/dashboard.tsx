// The appliance at a glance. Each figure comes from the route that already serves it, under
// the signed-in account's role: what the role may not read says so rather than guessing.
import { useEffect, useState } from 'preact/hooks';
import { APPLIANCE, NETHSM, type Session, describe, getJson, request, send } from '../api';
import { Card, Figure, Message, duration, useAction, useLoad } from '../ui';
import { Cluster } from './cluster';

export interface PageProps {
  session: Session;
  onLocked: () => void;
}

function show<T>(l: { data: T | null; error: string | null }, f: (d: T) => string) {
  if (l.error) return `not available: ${l.error}`;
  return l.data === null ? 'loading…' : f(l.data);
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
  micros: number;
}

function totals(m: Metrics) {
  let requests = 0;
  let errors = 0;
  let micros = 0;
  for (const [key, value] of Object.entries(m)) {
    const n = Number(value) || 0;
    // The time spent answering, summed over every request (docs/admin-api.md).
    if (key.startsWith('http_request_duration_microseconds_total.')) micros += n;
    if (!key.startsWith('http_requests_total.')) continue;
    requests += n;
    if (key.endsWith('.4xx') || key.endsWith('.5xx')) errors += n;
  }
  return { requests, errors, micros };
}

/// A line of the last readings, drawn as SVG attributes (the CSP allows no inline style),
/// with the scale's top written in its corner.
function Sparkline({ values, label, unit }: { values: number[]; label: string; unit: string }) {
  const w = 240;
  const h = 48;
  const top = 12;
  const max = Math.max(1e-9, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - (v / max) * (h - top)).toFixed(1)}`);
  const id = `chart-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <figure class="chart">
      <svg class="spark" viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-labelledby={id}>
        <text x="0" y="10" font-size="10" fill="currentColor">
          {`max ${max < 10 ? max.toFixed(2) : max.toFixed(0)} ${unit}`}
        </text>
        <polyline fill="none" stroke="currentColor" stroke-width="2" points={points.join(' ')} />
      </svg>
      <figcaption id={id}>{label}</figcaption>
    </figure>
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
        The request and error rates and the latency come from the metrics, which only a Metrics account may read:
        sign in as one to see them here.
      </p>
    );
  }
  if (error) return <p class="error">Metrics not available: {error}</p>;
  const rates = samples.slice(1).map((s, i) => {
    const dt = (s.at - samples[i].at) / 1000 || 1;
    const served = s.requests - samples[i].requests;
    return {
      requests: served / dt,
      errors: (s.errors - samples[i].errors) / dt,
      // The mean latency of the requests answered between the two readings.
      latency: served > 0 ? (s.micros - samples[i].micros) / served / 1000 : 0,
    };
  });
  const last = rates[rates.length - 1];
  const fmt = (n: number | undefined) => (n === undefined ? 'measuring…' : `${n.toFixed(2)} per second`);
  return (
    <>
      <dl class="figures">
        <Figure label="Uptime" value={uptime === null ? 'loading…' : duration(uptime)} />
        <Figure label="Requests" value={fmt(last?.requests)} />
        <Figure label="Errors (4xx and 5xx)" value={fmt(last?.errors)} />
        <Figure label="Mean latency" value={last === undefined ? 'measuring…' : `${last.latency.toFixed(2)} ms`} />
      </dl>
      {rates.length > 1 && (
        <div class="charts">
          <Sparkline values={rates.map((r) => r.requests)} label="Requests per second, last minutes" unit="/s" />
          <Sparkline values={rates.map((r) => r.errors)} label="Errors per second, last minutes" unit="/s" />
          <Sparkline values={rates.map((r) => r.latency)} label="Mean latency, last minutes" unit="ms" />
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
      <Cluster session={session} />
    </div>
  );
}
