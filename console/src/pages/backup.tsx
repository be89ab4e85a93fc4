// Backup download (NetHSM's POST /system/backup, a Backup account) with its progress, and the
// backup passphrase (PUT /config/backup-passphrase, an Administrator).
import { useState } from 'preact/hooks';
import { NETHSM, send, request } from '../api';
import { Card, Field, Message, readAll, saveFile, size, useAction } from '../ui';
import type { PageProps } from './dashboard';

function Download() {
  const [received, setReceived] = useState<number | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  const [outcome, busy, act] = useAction();
  return (
    <Card title="Download a backup">
      <p>The backup is encrypted under the backup passphrase; only a Backup account may make one.</p>
      <form
        onSubmit={act(async () => {
          setReceived(0);
          const r = await request('POST', `${NETHSM}/system/backup`, { accept: 'application/octet-stream' });
          const length = Number(r.headers.get('content-length')) || null;
          setTotal(length);
          const chunks = await readAll(r, setReceived);
          const count = chunks.reduce((n, c) => n + c.length, 0);
          saveFile(chunks as BlobPart[], `strongroom-backup-${new Date().toISOString().replace(/[:.]/g, '-')}.bin`);
          return `Backup downloaded (${size(count)}).`;
        })}
      >
        <button type="submit" disabled={busy}>
          Download backup
        </button>
      </form>
      {received !== null && (
        <div class="progress">
          <label for="backup-progress">Received</label>
          <progress id="backup-progress" max={total ?? undefined} value={total ? received : undefined}>
            {size(received)}
          </progress>
          <span>
            {size(received)}
            {total ? ` of ${size(total)}` : ''}
          </span>
        </div>
      )}
      <Message outcome={outcome} />
    </Card>
  );
}

function Passphrase() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [outcome, busy, act] = useAction();
  return (
    <Card title="Backup passphrase">
      <form
        onSubmit={act(async () => {
          await send('PUT', `${NETHSM}/config/backup-passphrase`, {
            newPassphrase: next,
            currentPassphrase: current,
          });
          setCurrent('');
          setNext('');
          return 'Backup passphrase set.';
        })}
      >
        <Field
          label="Current backup passphrase"
          type="password"
          value={current}
          onInput={setCurrent}
          autocomplete="current-password"
          hint="Empty when none was set yet."
        />
        <Field
          label="New backup passphrase"
          type="password"
          value={next}
          onInput={setNext}
          autocomplete="new-password"
          required
        />
        <button type="submit" disabled={busy}>
          Set passphrase
        </button>
      </form>
      <Message outcome={outcome} />
    </Card>
  );
}

export function Backup({ session }: PageProps) {
  return (
    <div class="grid">
      {session.role === 'Backup' ? (
        <Download />
      ) : (
        <Card title="Download a backup">
          <p>Backups are made by a Backup account: sign in as one to download a backup.</p>
        </Card>
      )}
      {session.role === 'Administrator' ? (
        <Passphrase />
      ) : (
        <Card title="Backup passphrase">
          <p>Only an Administrator sets the backup passphrase.</p>
        </Card>
      )}
    </div>
  );
}
