// Users of the identity store, through NetHSM's /users routes (Administrator).
import { useState } from 'preact/hooks';
import { NETHSM, getJson, send } from '../api';
import { Card, Field, Message, Select, useAction, useLoad } from '../ui';
import type { PageProps } from './dashboard';
import { Namespaces, Tags, namespaceOf } from './namespaces';

interface User {
  id: string;
  realName: string;
  role: string;
}

async function loadUsers(): Promise<User[]> {
  const ids = await getJson<{ user: string }[]>(`${NETHSM}/users`);
  return Promise.all(
    ids.map(async ({ user }) => ({
      id: user,
      ...(await getJson<{ realName: string; role: string }>(`${NETHSM}/users/${encodeURIComponent(user)}`)),
    })),
  );
}

export function Users({ session }: PageProps) {
  const users = useLoad(loadUsers);
  const [id, setId] = useState('');
  const [realName, setRealName] = useState('');
  const [role, setRole] = useState('Operator');
  const [passphrase, setPassphrase] = useState('');
  const [outcome, busy, act] = useAction();

  return (
    <div class="grid">
      <Card title="Users" wide>
        {users.error && <p class="error">{users.error}</p>}
        {users.data && (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Users of the identity store</caption>
              <thead>
                <tr>
                  <th scope="col">User id</th>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Namespace</th>
                  <th scope="col">Tags</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <tr key={u.id}>
                    <th scope="row">{u.id}</th>
                    <td>{u.realName}</td>
                    <td>{u.role}</td>
                    <td>{namespaceOf(u.id) ?? 'root'}</td>
                    <td>{u.role === 'Operator' ? <Tags user={u.id} /> : '—'}</td>
                    <td>
                      <button
                        type="button"
                        class="danger"
                        aria-label={`Delete user ${u.id}`}
                        disabled={busy}
                        onClick={act(async () => {
                          if (!confirm(`Delete the user ${u.id}?`)) return 'Nothing deleted.';
                          await send('DELETE', `${NETHSM}/users/${encodeURIComponent(u.id)}`);
                          users.reload();
                          return `User ${u.id} deleted.`;
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
      </Card>
      <Card title="Create a user">
        <form
          onSubmit={act(async () => {
            await send('PUT', `${NETHSM}/users/${encodeURIComponent(id)}`, { realName, role, passphrase });
            setId('');
            setRealName('');
            setPassphrase('');
            users.reload();
            return `User ${id} created.`;
          })}
        >
          <Field
            label="User id"
            value={id}
            onInput={setId}
            required
            hint="Letters and digits; ns~name for a user of namespace ns."
          />
          <Field label="Name" value={realName} onInput={setRealName} required />
          <Select
            label="Role"
            value={role}
            onChange={setRole}
            options={[
              ['Administrator', 'Administrator'],
              ['Operator', 'Operator'],
              ['Metrics', 'Metrics'],
              ['Backup', 'Backup'],
            ]}
          />
          <Field
            label="Passphrase"
            type="password"
            value={passphrase}
            onInput={setPassphrase}
            autocomplete="new-password"
            required
          />
          <button type="submit" disabled={busy}>
            Create user
          </button>
        </form>
      </Card>
      {!session.namespace && <Namespaces />}
      <Message outcome={outcome} />
    </div>
  );
}
