// The audit trail (Strongroom's /audit, root Administrator), filtered here, and the result of
// walking its hash chain (/audit/verify), stated plainly.
import { useState } from 'preact/hooks';
import { STRONGROOM, getJson } from '../api';
import { Card, Field, Select, useLoad } from '../ui';
import type { PageProps } from './dashboard';

interface AuditEvent {
  seq: number;
  time: string;
  actor: string | null;
  face: string;
  action: string;
  target: string;
  outcome: string;
  status?: number;
  count?: number;
}

interface ChainReport {
  verified: boolean;
  events: number;
  brokenAt?: number;
  reason?: string;
  prunedThrough?: number;
}

/// At most this many events are read (the newest are kept when there are more).
const MAX_EVENTS = 20000;

async function loadTrail(): Promise<{ events: AuditEvent[]; unreadable: number[] }> {
  let after = 0;
  let events: AuditEvent[] = [];
  const unreadable: number[] = [];
  for (;;) {
    const page = await getJson<{ events: AuditEvent[]; unreadable: number[]; next?: number }>(
      `${STRONGROOM}/audit?after=${after}&limit=1000`,
    );
    events = events.concat(page.events);
    unreadable.push(...page.unreadable);
    if (events.length > MAX_EVENTS) events = events.slice(-MAX_EVENTS);
    if (page.next === undefined || page.next <= after) break;
    after = page.next;
  }
  return { events: events.reverse(), unreadable };
}

export function Audit(_: PageProps) {
  const trail = useLoad(loadTrail);
  const chain = useLoad(() => getJson<ChainReport>(`${STRONGROOM}/audit/verify`));
  const [who, setWho] = useState('');
  const [what, setWhat] = useState('');
  const [face, setFace] = useState('');
  const [outcome, setOutcome] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');

  const events = trail.data?.events ?? [];
  const faces = Array.from(new Set(events.map((e) => e.face))).sort();
  const outcomes = Array.from(new Set(events.map((e) => e.outcome))).sort();
  const fromMs = from ? new Date(from).getTime() : -Infinity;
  const toMs = to ? new Date(to).getTime() : Infinity;
  const shown = events.filter((e) => {
    const t = new Date(e.time).getTime();
    return (
      (!who || (e.actor ?? '').toLowerCase().includes(who.toLowerCase())) &&
      (!what || `${e.action} ${e.target}`.toLowerCase().includes(what.toLowerCase())) &&
      (!face || e.face === face) &&
      (!outcome || e.outcome === outcome) &&
      t >= fromMs &&
      t <= toMs
    );
  });

  return (
    <div class="grid">
      <Card title="Chain verification" wide>
        {chain.error && <p class="error">{chain.error}</p>}
        {chain.data &&
          (chain.data.verified ? (
            <p class="ok verdict">
              The chain verifies: {chain.data.events} events, each following the one before, none altered
              {chain.data.prunedThrough ? ` (events up to ${chain.data.prunedThrough} were pruned)` : ''}.
            </p>
          ) : (
            <p class="error verdict">
              The chain does NOT verify
              {chain.data.brokenAt !== undefined ? `: it breaks at event ${chain.data.brokenAt}` : ''}
              {chain.data.reason ? ` (${chain.data.reason})` : ''}. {chain.data.events} events verified before the
              break.
            </p>
          ))}
        {trail.data && trail.data.unreadable.length > 0 && (
          <p class="error">Unreadable events (failed authentication): {trail.data.unreadable.join(', ')}</p>
        )}
      </Card>
      <Card title="Filters" wide>
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <Field label="Who" value={who} onInput={setWho} />
          <Field label="What (action or target)" value={what} onInput={setWhat} />
          <Select label="Face" value={face} onChange={setFace} options={[['', 'Any'], ...faces.map((f): [string, string] => [f, f])]} />
          <Select
            label="Outcome"
            value={outcome}
            onChange={setOutcome}
            options={[['', 'Any'], ...outcomes.map((o): [string, string] => [o, o])]}
          />
          <Field label="From" type="datetime-local" value={from} onInput={setFrom} />
          <Field label="To" type="datetime-local" value={to} onInput={setTo} />
        </form>
      </Card>
      <Card title="Events" wide>
        {trail.error && <p class="error">{trail.error}</p>}
        {trail.data && (
          <p role="status">
            {shown.length} of {events.length} events shown, newest first.
          </p>
        )}
        {shown.length > 0 && (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Audit events</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Time</th>
                  <th scope="col">Who</th>
                  <th scope="col">Face</th>
                  <th scope="col">What</th>
                  <th scope="col">Target</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {shown.slice(0, 500).map((e) => (
                  <tr key={e.seq}>
                    <td>{e.seq}</td>
                    <td>{new Date(e.time).toLocaleString()}</td>
                    <td>{e.actor ?? '—'}</td>
                    <td>{e.face}</td>
                    <td>{e.action}</td>
                    <td class="target">{e.target}</td>
                    <td>
                      {e.outcome}
                      {e.status ? ` (${e.status})` : ''}
                      {e.count ? ` ×${e.count}` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {shown.length > 500 && <p>The first 500 are shown: narrow the filters to see others.</p>}
      </Card>
    </div>
  );
}
