// Backup clients (Strongroom's /clients, root Administrator), their passkeys (set through the
// backup-client face, as backup software does) and the restore decision for each.
import { useEffect, useState } from 'preact/hooks';
import { BACKUP_CLIENT, STRONGROOM, base64, clockOffset, getJson, request, send } from '../api';
import { Card, Field, Message, Select, duration, useAction, useLoad } from '../ui';
import type { PageProps } from './dashboard';

interface Client {
  id: number;
  name: string;
  hostName: string;
  displayName: string;
  owners: string[];
  passkey: { enabled: boolean; authorizedUntil?: string };
}

interface Decision {
  allowed: boolean;
  reason: string;
  authorizedUntil?: string;
}

/// The appliance's time now, by this browser's clock corrected by the offset the appliance's
/// answers showed, ticking every second while the page is open.
function useApplianceNow(offset: number) {
  const [now, setNow] = useState(() => Date.now() + offset);
  useEffect(() => {
    setNow(Date.now() + offset);
    const timer = setInterval(() => setNow(Date.now() + offset), 1000);
    return () => clearInterval(timer);
  }, [offset]);
  return now;
}

/// A restore authorization's time left, counted down; its end is on the appliance's clock.
function TimeLeft({ until, now }: { until: string; now: number }) {
  const end = Date.parse(until);
  const left = Math.ceil((end - now) / 1000);
  if (left <= 0) return <span>restore authorization ended {new Date(end).toLocaleString()}</span>;
  return (
    <span>
      restores authorized:{' '}
      <span class="countdown" role="timer" aria-label={`Restore authorization time left: ${duration(left)}`}>
        {duration(left)} left
      </span>{' '}
      (until {new Date(end).toLocaleString()})
    </span>
  );
}

function PasskeyState({ c, now }: { c: Client; now: number }) {
  if (!c.passkey.enabled) return <>none</>;
  return c.passkey.authorizedUntil ? (
    <>
      set; <TimeLeft until={c.passkey.authorizedUntil} now={now} />
    </>
  ) : (
    <>set</>
  );
}

interface PasskeyReply {
  error?: { errorCode: number; errorMessage?: string };
}

export function Clients(_: PageProps) {
  const clients = useLoad(async () => {
    const r = await request('GET', `${STRONGROOM}/clients`);
    return { offset: clockOffset(r), list: ((await r.json()) as { clients: Client[] }).clients };
  });
  const now = useApplianceNow(clients.data?.offset ?? 0);
  const [name, setName] = useState('');
  const [hostName, setHostName] = useState('');
  const [owners, setOwners] = useState('');
  const [target, setTarget] = useState('');
  const [op, setOp] = useState('CREATE');
  const [current, setCurrent] = useState('');
  const [passkey, setPasskey] = useState('');
  const [confirmPasskey, setConfirmPasskey] = useState('');
  const [decisions, setDecisions] = useState<Record<number, Decision>>({});
  const [outcome, busy, act] = useAction();
  const list = clients.data?.list ?? [];
  const chosen = target || (list[0] ? String(list[0].id) : '');

  return (
    <div class="grid">
      <Card title="Backup clients" wide>
        {clients.error && <p class="error">{clients.error}</p>}
        {clients.data && list.length === 0 && <p>No backup client is registered.</p>}
        {list.length > 0 && (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Backup clients</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Host</th>
                  <th scope="col">Owners</th>
                  <th scope="col">Passkey</th>
                  <th scope="col">Restore decision</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.map((c) => {
                  const d = decisions[c.id];
                  return (
                    <tr key={c.id}>
                      <th scope="row">{c.name}</th>
                      <td>{c.hostName}</td>
                      <td>{c.owners.join(', ') || '—'}</td>
                      <td>
                        <PasskeyState c={c} now={now} />
                      </td>
                      <td>
                        {d && (
                          <span class={d.allowed ? 'ok' : 'error'}>
                            {d.allowed ? 'allowed' : 'refused'} ({d.reason}
                            {d.authorizedUntil ? `, until ${new Date(d.authorizedUntil).toLocaleString()}` : ''}){' '}
                          </span>
                        )}
                        <button
                          type="button"
                          aria-label={`Ask the restore decision for ${c.name}`}
                          onClick={act(async () => {
                            const decision = await getJson<Decision>(
                              `${STRONGROOM}/clients/${c.id}/restore-authorization?operation=restore`,
                            );
                            setDecisions((all) => ({ ...all, [c.id]: decision }));
                            return `Restore of ${c.name}: ${decision.allowed ? 'allowed' : 'refused'} (${decision.reason}).`;
                          })}
                        >
                          {d ? 'Ask again' : 'Ask'}
                        </button>
                      </td>
                      <td>
                        <button
                          type="button"
                          class="danger"
                          aria-label={`Delete client ${c.name}`}
                          disabled={busy}
                          onClick={act(async () => {
                            if (!confirm(`Delete the client ${c.name} and its passkey?`)) return 'Nothing deleted.';
                            await send('DELETE', `${STRONGROOM}/clients/${c.id}`);
                            clients.reload();
                            return `Client ${c.name} deleted.`;
                          })}
                        >
                          Delete
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title="Register a client">
        <form
          onSubmit={act(async () => {
            const body: Record<string, unknown> = { name, hostName };
            const list = owners
              .split(',')
              .map((o) => o.trim())
              .filter(Boolean);
            if (list.length) body.owners = list;
            const c = await send<Client>('POST', `${STRONGROOM}/clients`, body);
            setTarget(String(c.id));
            setName('');
            setHostName('');
            setOwners('');
            clients.reload();
            return `Client ${c.name} registered.`;
          })}
        >
          <Field label="Name" value={name} onInput={setName} required />
          <Field label="Host name" value={hostName} onInput={setHostName} required />
          <Field label="Owners" value={owners} onInput={setOwners} hint="User ids, separated by commas." />
          <button type="submit" disabled={busy}>
            Register client
          </button>
        </form>
      </Card>
      {list.length > 0 && (
        <Card title="Client passkey">
          <form
            onSubmit={act(async () => {
              const authorize = op === 'AUTHORIZE' || op === 'END';
              const body: Record<string, unknown> = {};
              if (authorize) {
                // As backup software opens (or closes) a restore window with the passkey.
                body.App_AuthorizeForRestoreRequest = {
                  passkey: base64(current),
                  passkeySettings: { enableAuthorizeForRestore: op === 'AUTHORIZE' },
                };
              } else {
                const change: Record<string, string> = { passkeyOpType: op };
                if (current) change.currentPasskey = base64(current);
                if (passkey) change.newPasskey = base64(passkey);
                if (confirmPasskey) change.confirmPasskey = base64(confirmPasskey);
                body.App_SetPasskeyRequest = change;
              }
              const reply = await send<PasskeyReply>('POST', `${BACKUP_CLIENT}/client/${chosen}/passkey`, body);
              if (reply?.error && reply.error.errorCode !== 0) {
                throw new Error(reply.error.errorMessage ?? `passkey refused (code ${reply.error.errorCode})`);
              }
              setCurrent('');
              setPasskey('');
              setConfirmPasskey('');
              clients.reload();
              if (op === 'AUTHORIZE') return 'Restores authorized.';
              if (op === 'END') return 'Restore authorization ended.';
              return 'Passkey updated.';
            })}
          >
            <Select
              label="Client"
              value={chosen}
              onChange={setTarget}
              options={list.map((c) => [String(c.id), c.name])}
            />
            <Select
              label="Operation"
              value={op}
              onChange={setOp}
              options={[
                ['CREATE', 'Set a passkey'],
                ['EDIT', 'Change the passkey'],
                ['DISABLE', 'Remove the passkey'],
                ['AUTHORIZE', 'Authorize restores'],
                ['END', 'End the restore authorization'],
              ]}
            />
            {op !== 'CREATE' && (
              <Field
                label={op === 'AUTHORIZE' || op === 'END' ? 'Passkey' : 'Current passkey'}
                type="password"
                value={current}
                onInput={setCurrent}
                autocomplete="current-password"
                required
              />
            )}
            {(op === 'CREATE' || op === 'EDIT') && (
              <>
                <Field
                  label="New passkey"
                  type="password"
                  value={passkey}
                  onInput={setPasskey}
                  autocomplete="new-password"
                  required
                />
                <Field
                  label="Confirm the new passkey"
                  type="password"
                  value={confirmPasskey}
                  onInput={setConfirmPasskey}
                  autocomplete="new-password"
                  required
                />
              </>
            )}
            <p class="hint">A lost passkey cannot be recovered: restores of the client stay refused without it.</p>
            <button type="submit" disabled={busy}>
              Apply
            </button>
          </form>
        </Card>
      )}
      <Message outcome={outcome} />
    </div>
  );
}
