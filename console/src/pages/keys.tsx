// NetHSM keys through the face's /keys routes: the list (Administrator or Operator, of the
// caller's namespace), and for an Administrator generate, certificate upload and removal, and
// delete. A key's public key and certificate are read as the face serves them.
import { useState } from 'preact/hooks';
import { ApiError, NETHSM, type Session, getJson, request, send } from '../api';
import { Card, Field, Message, Select, useAction, useLoad } from '../ui';
import type { PageProps } from './dashboard';

interface Key {
  id: string;
  type: string;
  mechanisms: string[];
  restrictions: { tags?: string[] };
  label?: string;
  operations?: number;
}

// The mechanisms each key type takes (the core refuses any other: crates/core/src/keys).
const RSA_MECHANISMS = [
  'RSA_Signature_PKCS1',
  'RSA_Signature_PSS_SHA256',
  'RSA_Signature_PSS_SHA384',
  'RSA_Signature_PSS_SHA512',
  'RSA_Signature_PSS_SHA224',
  'RSA_Signature_PSS_SHA1',
  'RSA_Signature_PSS_MD5',
  'RSA_Decryption_RAW',
  'RSA_Decryption_PKCS1',
  'RSA_Decryption_OAEP_SHA256',
  'RSA_Decryption_OAEP_SHA384',
  'RSA_Decryption_OAEP_SHA512',
  'RSA_Decryption_OAEP_SHA224',
  'RSA_Decryption_OAEP_SHA1',
  'RSA_Decryption_OAEP_MD5',
];
const EC = ['ECDSA_Signature'];
const TYPES: Record<string, { mechanisms: string[]; lengths?: number[] }> = {
  RSA: { mechanisms: RSA_MECHANISMS, lengths: [2048, 3072, 4096, 8192] },
  Curve25519: { mechanisms: ['EdDSA_Signature'] },
  EC_P256: { mechanisms: EC },
  EC_P384: { mechanisms: EC },
  EC_P521: { mechanisms: EC },
  EC_P256K1: { mechanisms: ['ECDSA_Signature', 'BIP340_Signature'] },
  BrainpoolP256: { mechanisms: EC },
  BrainpoolP384: { mechanisms: EC },
  BrainpoolP512: { mechanisms: EC },
  Generic: { mechanisms: ['AES_Encryption_CBC', 'AES_Decryption_CBC'], lengths: [128, 192, 256] },
};

const path = (id: string) => `${NETHSM}/keys/${encodeURIComponent(id)}`;

async function loadKeys(): Promise<Key[]> {
  const ids = await getJson<{ id: string }[]>(`${NETHSM}/keys`);
  return Promise.all(ids.map(async ({ id }) => ({ id, ...(await getJson<Omit<Key, 'id'>>(path(id))) })));
}

function joined(items: string[] | undefined) {
  return items && items.length ? items.join(', ') : '—';
}

function Generate({ onGenerated }: { onGenerated: (id: string) => void }) {
  const [id, setId] = useState('');
  const [type, setType] = useState('EC_P256');
  const [length, setLength] = useState('');
  const [mechanisms, setMechanisms] = useState<string[]>(['ECDSA_Signature']);
  const [tags, setTags] = useState('');
  const [label, setLabel] = useState('');
  const [outcome, busy, act] = useAction();
  const spec = TYPES[type];
  const chosenLength = length || String(spec.lengths?.[0] ?? '');

  return (
    <Card title="Generate a key">
      <form
        onSubmit={act(async () => {
          if (!mechanisms.length) throw new Error('Choose at least one mechanism.');
          const body: Record<string, unknown> = { type, mechanisms };
          if (spec.lengths) body.length = Number(chosenLength);
          if (id) body.id = id;
          if (label) body.label = label;
          const tagList = tags
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean);
          if (tagList.length) body.restrictions = { tags: tagList };
          const r = await request('POST', `${NETHSM}/keys/generate`, { json: body });
          const created = id || (await r.json()).id;
          setId('');
          setTags('');
          setLabel('');
          onGenerated(created);
          return `Key ${created} generated.`;
        })}
      >
        <Field label="Key id" value={id} onInput={setId} hint="Letters and digits; empty for a generated id." />
        <Select
          label="Key type"
          value={type}
          onChange={(t) => {
            setType(t);
            setLength('');
            setMechanisms([TYPES[t].mechanisms[0]]);
          }}
          options={Object.keys(TYPES).map((t) => [t, t])}
        />
        {spec.lengths && (
          <Select
            label="Length (bits)"
            value={chosenLength}
            onChange={setLength}
            options={spec.lengths.map((l) => [String(l), String(l)])}
          />
        )}
        <fieldset class="choices">
          <legend>Mechanisms</legend>
          {spec.mechanisms.map((m) => (
            <label key={m} class="choice">
              <input
                type="checkbox"
                checked={mechanisms.includes(m)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  setMechanisms((all) => (on ? [...all, m] : all.filter((x) => x !== m)));
                }}
              />{' '}
              {m}
            </label>
          ))}
        </fieldset>
        <Field
          label="Restricted to tags"
          value={tags}
          onInput={setTags}
          hint="Separated by commas: only Operators holding one of them may use the key."
        />
        <Field label="Label" value={label} onInput={setLabel} />
        <button type="submit" disabled={busy}>
          Generate key
        </button>
      </form>
      <Message outcome={outcome} />
    </Card>
  );
}

/// Copies text; where the clipboard API is refused (an insecure context, a denied permission)
/// the text is selected instead, for the user to copy with the keyboard.
async function copy(text: string, field: HTMLTextAreaElement | null) {
  try {
    await navigator.clipboard.writeText(text);
    return 'Copied to the clipboard.';
  } catch {
    field?.focus();
    field?.select();
    return 'Selected: copy it with Ctrl+C.';
  }
}

function KeyDetail(props: { id: string; session: Session; onDeleted: (message: string) => void }) {
  const { id, session, onDeleted } = props;
  const admin = session.role === 'Administrator';
  const pem = useLoad(
    async () => (await request('GET', `${path(id)}/public.pem`, { accept: 'application/x-pem-file' })).text(),
    [id],
  );
  const cert = useLoad(async () => {
    try {
      const r = await request('GET', `${path(id)}/cert`, {
        accept: 'application/x-pem-file, application/octet-stream;q=0.5',
      });
      const type = r.headers.get('content-type') ?? '';
      const bytes = new Uint8Array(await r.arrayBuffer());
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      return {
        text:
          type.includes('pem') || text.startsWith('-----BEGIN')
            ? text
            : `${bytes.length} bytes (${type || 'binary'}), not PEM`,
      };
    } catch (e) {
      // 404: the key has no certificate (the key itself was just listed).
      if (e instanceof ApiError && e.status === 404) return { text: null };
      throw e;
    }
  }, [id]);
  const stored = cert.data?.text ?? null;
  const [upload, setUpload] = useState('');
  const [outcome, busy, act] = useAction();
  const pemId = `public-${id}`;
  const certId = `cert-${id}`;
  const uploadId = `upload-${id}`;

  return (
    <Card title={`Key ${id}`} wide>
      <h3>
        <label for={pemId}>Public key (PEM)</label>
      </h3>
      {pem.error && <p class="error">{pem.error}</p>}
      {pem.data !== null && (
        <>
          <textarea id={pemId} class="pem" readOnly rows={6} value={pem.data} />
          <button
            type="button"
            onClick={act(() => copy(pem.data!, document.getElementById(pemId) as HTMLTextAreaElement))}
          >
            Copy public key
          </button>
        </>
      )}
      <h3>Certificate</h3>
      {cert.error && <p class="error">{cert.error}</p>}
      {cert.data && stored === null && <p>No certificate is stored with this key.</p>}
      {stored !== null && (
        <>
          <label for={certId} class="visually-hidden">
            Certificate of {id}
          </label>
          <textarea id={certId} class="pem" readOnly rows={6} value={stored} />
          {admin && (
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={act(async () => {
                if (!confirm(`Delete the certificate of ${id}?`)) return 'Nothing deleted.';
                await send('DELETE', `${path(id)}/cert`);
                cert.reload();
                return `Certificate of ${id} deleted.`;
              })}
            >
              Delete certificate
            </button>
          )}
        </>
      )}
      {admin && stored !== null && (
        <p class="hint">A key holds one certificate: delete this one to store another.</p>
      )}
      {admin && cert.data && stored === null && (
        <form
          onSubmit={act(async () => {
            const data = upload.trim();
            if (!data.startsWith('-----BEGIN')) throw new Error('Paste a certificate in PEM (-----BEGIN CERTIFICATE-----).');
            await request('PUT', `${path(id)}/cert`, { body: { type: 'application/x-pem-file', data: `${data}\n` } });
            setUpload('');
            cert.reload();
            return `Certificate of ${id} stored.`;
          })}
        >
          <div class="field">
            <label for={uploadId}>Upload a certificate (PEM)</label>
            <textarea
              id={uploadId}
              class="pem"
              rows={6}
              value={upload}
              onInput={(e) => setUpload((e.target as HTMLTextAreaElement).value)}
              required
            />
          </div>
          <button type="submit" disabled={busy}>
            Store certificate
          </button>
        </form>
      )}
      {admin && (
        <>
          <h3>Delete</h3>
          <p class="hint">A deleted key is gone for good; what it signed or encrypted stays as it is.</p>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={act(async () => {
              if (!confirm(`Delete the key ${id}? This cannot be undone.`)) return 'Nothing deleted.';
              await send('DELETE', path(id));
              onDeleted(`Key ${id} deleted.`);
              return `Key ${id} deleted.`;
            })}
          >
            Delete key {id}
          </button>
        </>
      )}
      <Message outcome={outcome} />
    </Card>
  );
}

export function Keys({ session }: PageProps) {
  const admin = session.role === 'Administrator';
  const operator = session.role === 'Operator';
  const keys = useLoad(() => (admin || operator ? loadKeys() : Promise.resolve([] as Key[])));
  const [selected, setSelected] = useState<string | null>(null);
  const [outcome, , act] = useAction();
  const [notice, setNotice] = useState<string | null>(null);

  if (!admin && !operator) {
    return <p>Keys are listed for Administrators and Operators: sign in as one to see them.</p>;
  }
  const list = keys.data ?? [];
  return (
    <div class="grid">
      <Card title="Keys" wide>
        {keys.error && <p class="error">{keys.error}</p>}
        {keys.data && list.length === 0 && <p>No key is stored{session.namespace ? ` in ${session.namespace}` : ''}.</p>}
        {list.length > 0 && (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Keys</caption>
              <thead>
                <tr>
                  <th scope="col">Key id</th>
                  <th scope="col">Type</th>
                  <th scope="col">Mechanisms</th>
                  <th scope="col">Restricted to tags</th>
                  <th scope="col">Label</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.map((k) => (
                  <tr key={k.id}>
                    <th scope="row">{k.id}</th>
                    <td>{k.type}</td>
                    <td class="target">{joined(k.mechanisms)}</td>
                    <td>{joined(k.restrictions?.tags)}</td>
                    <td>{k.label || '—'}</td>
                    <td>
                      <button
                        type="button"
                        aria-label={`Show key ${k.id}`}
                        aria-pressed={selected === k.id}
                        onClick={act(async () => {
                          setNotice(null);
                          setSelected(k.id);
                          return `Key ${k.id} shown below.`;
                        })}
                      >
                        Show
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Message outcome={notice ? { ok: true, text: notice } : outcome} />
      </Card>
      {selected && list.some((k) => k.id === selected) && (
        <KeyDetail
          key={selected}
          id={selected}
          session={session}
          onDeleted={(message) => {
            setNotice(message);
            setSelected(null);
            keys.reload();
          }}
        />
      )}
      {admin && (
        <Generate
          onGenerated={(id) => {
            setNotice(null);
            keys.reload();
            setSelected(id);
          }}
        />
      )}
    </div>
  );
}
