// Backup clients (Strongroom's /clients, root Administrator), their passkeys (set through the
// backup-client face, as backup software does) and the restore decision for each.
import { useState } from 'preact/hooks';
import { BACKUP_CLIENT, STRONGROOM, base64, getJson, send } from '../api';
import { Card, Field, Message, Select, useAction, useLoad } from '../ui';
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

function passkeyState(c: Client) {
  if (!c.passkey.enabled) return 'none';
  return c.passkey.authorizedUntil
    ? `set; restores authorized until ${new Date(c.passkey.authorizedUntil).toLocaleString()}`
    : 'set';
}

interface PasskeyReply {
  error?: { errorCode: number; errorMessage?: string };
}

export function Clients(_: PageProps) {
  const clients = useLoad(() => getJson<{ clients: Client[] }>(`${STRONGROOM}/clients`).then((r) => r.clients));
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
  const list = clients.data ?? [];
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
                      <td>{passkeyState(c)}</td>
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
              const request: Record<string, string> = { passkeyOpType: op };
              if (current) request.currentPasskey = base64(current);
              if (passkey) request.newPasskey = base64(passkey);
              if (confirmPasskey) request.confirmPasskey = base64(confirmPasskey);
              const reply = await send<PasskeyReply>('POST', `${BACKUP_CLIENT}/client/${chosen}/passkey`, {
                App_SetPasskeyRequest: request,
              });
              if (reply?.error && reply.error.errorCode !== 0) {
                throw new Error(reply.error.errorMessage ?? `passkey refused (code ${reply.error.errorCode})`);
              }
              setCurrent('');
              setPasskey('');
              setConfirmPasskey('');
              clients.reload();
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
              ]}
            />
            {op !== 'CREATE' && (
              <Field
                label="Current passkey"
                type="password"
                value={current}
                onInput={setCurrent}
                autocomplete="current-password"
                required
              />
            )}
            {op !== 'DISABLE' && (
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
