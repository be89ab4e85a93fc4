// NetHSM's namespaces (root Administrator: /namespaces) and an Operator's tags
// (/users/{UserID}/tags, Administrator of the same namespace), shown on the Users page.
import { useState } from 'preact/hooks';
import { ApiError, NETHSM, getJson, send } from '../api';
import { Card, Field, Message, useAction, useLoad } from '../ui';

/// The namespace of a user id: `ns~name` is user `name` of namespace `ns`; none is the root.
export function namespaceOf(id: string) {
  const at = id.indexOf('~');
  return at < 0 ? null : id.slice(0, at);
}

const userPath = (id: string) => `${NETHSM}/users/${encodeURIComponent(id)}`;

/// An Operator's tags, with a remove button each and a field to add one.
export function Tags({ user }: { user: string }) {
  const tags = useLoad(() => getJson<string[]>(`${userPath(user)}/tags`), [user]);
  const [tag, setTag] = useState('');
  const [outcome, busy, act] = useAction();
  return (
    <div class="tags">
      {tags.error && <p class="error">{tags.error}</p>}
      {tags.data && tags.data.length === 0 && <span>no tags</span>}
      {tags.data && tags.data.length > 0 && (
        <ul class="plain" aria-label={`Tags of ${user}`}>
          {tags.data.map((t) => (
            <li key={t}>
              {t}{' '}
              <button
                type="button"
                class="danger"
                disabled={busy}
                aria-label={`Remove tag ${t} from ${user}`}
                onClick={act(async () => {
                  await send('DELETE', `${userPath(user)}/tags/${encodeURIComponent(t)}`);
                  tags.reload();
                  return `Tag ${t} removed from ${user}.`;
                })}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        class="inline"
        onSubmit={act(async () => {
          const t = tag.trim();
          try {
            await send('PUT', `${userPath(user)}/tags/${encodeURIComponent(t)}`);
          } catch (e) {
            // 304: the user holds the tag already, which is what was asked.
            if (!(e instanceof ApiError && e.status === 304)) throw e;
          }
          setTag('');
          tags.reload();
          return `Tag ${t} given to ${user}.`;
        })}
      >
        <Field label={`New tag for ${user}`} value={tag} onInput={setTag} required />
        <button type="submit" disabled={busy}>
          Add tag
        </button>
      </form>
      <Message outcome={outcome} />
    </div>
  );
}

export function Namespaces() {
  const namespaces = useLoad(() => getJson<{ id: string }[]>(`${NETHSM}/namespaces`));
  const [id, setId] = useState('');
  const [outcome, busy, act] = useAction();
  return (
    <Card title="Namespaces">
      <p class="hint">
        A namespace keeps its users and keys apart from the others’. Create its first
        Administrator (user id <code>ns~name</code>) first, then the namespace.
      </p>
      {namespaces.error && <p class="error">{namespaces.error}</p>}
      {namespaces.data && namespaces.data.length === 0 && <p>No namespace exists.</p>}
      {namespaces.data && namespaces.data.length > 0 && (
        <ul class="plain" aria-label="Namespaces">
          {namespaces.data.map((n) => (
            <li key={n.id}>
              {n.id}{' '}
              <button
                type="button"
                class="danger"
                disabled={busy}
                aria-label={`Delete namespace ${n.id}`}
                onClick={act(async () => {
                  if (!confirm(`Delete the namespace ${n.id} and every key in it?`)) return 'Nothing deleted.';
                  await send('DELETE', `${NETHSM}/namespaces/${encodeURIComponent(n.id)}`);
                  namespaces.reload();
                  return `Namespace ${n.id} deleted.`;
                })}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        onSubmit={act(async () => {
          await send('PUT', `${NETHSM}/namespaces/${encodeURIComponent(id)}`);
          const created = id;
          setId('');
          namespaces.reload();
          return `Namespace ${created} created.`;
        })}
      >
        <Field label="Namespace" value={id} onInput={setId} required hint="Letters and digits." />
        <button type="submit" disabled={busy}>
          Create namespace
        </button>
      </form>
      <Message outcome={outcome} />
    </Card>
  );
}
