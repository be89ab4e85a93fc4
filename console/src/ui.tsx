// Small shared pieces: labelled fields, status messages read out by screen readers, and a
// hook that loads data and reloads it on demand.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { describe } from './api';

let nextId = 0;
function useId(prefix: string) {
  const [id] = useState(() => `${prefix}-${++nextId}`);
  return id;
}

export function Field(props: {
  label: string;
  value: string;
  onInput: (v: string) => void;
  type?: string;
  autocomplete?: string;
  required?: boolean;
  hint?: string;
  describedBy?: string;
  name?: string;
}) {
  const id = useId('field');
  const hintId = props.hint ? `${id}-hint` : undefined;
  const describedBy = [hintId, props.describedBy].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        autocomplete={props.autocomplete ?? 'off'}
        required={props.required}
        aria-describedby={describedBy}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      {props.hint && (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

export function Select(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: [string, string][];
}) {
  const id = useId('select');
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.value}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        {props.options.map(([value, text]) => (
          <option value={value} key={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

export type Outcome = { ok: boolean; text: string } | null;

/// The outcome of the last action: errors as alerts, successes as polite status messages.
export function Message({ outcome }: { outcome: Outcome }) {
  return (
    <div role={outcome && !outcome.ok ? 'alert' : 'status'} class="message-region">
      {outcome && <p class={outcome.ok ? 'ok' : 'error'}>{outcome.text}</p>}
    </div>
  );
}

export function Card(props: { title: string; children: ComponentChildren; wide?: boolean }) {
  const id = useId('card');
  return (
    <section class={props.wide ? 'card wide' : 'card'} aria-labelledby={id}>
      <h2 id={id}>{props.title}</h2>
      {props.children}
    </section>
  );
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load()
      .then((d) => live && (setData(d), setError(null)))
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [tick, ...deps]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

/// Runs a form's action, reporting its outcome; the form is not submitted by the browser.
export function useAction(): [
  Outcome,
  boolean,
  (run: () => Promise<string>) => (e?: Event) => Promise<void>,
] {
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [busy, setBusy] = useState(false);
  const act = (run: () => Promise<string>) => async (e?: Event) => {
    e?.preventDefault();
    setBusy(true);
    setOutcome(null);
    try {
      setOutcome({ ok: true, text: await run() });
    } catch (err) {
      setOutcome({ ok: false, text: describe(err) });
    } finally {
      setBusy(false);
    }
  };
  return [outcome, busy, act];
}

/// Hands bytes fetched with the session (a download link cannot carry the CSRF header) to the
/// browser as a file to save.
export function saveFile(parts: BlobPart[], name: string, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob(parts, { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/// Reads an answer's body in chunks, reporting the bytes received so far (for a progress bar).
export async function readAll(r: Response, progress: (received: number) => void): Promise<Uint8Array[]> {
  const reader = r.body!.getReader();
  const chunks: Uint8Array[] = [];
  let count = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    count += value.length;
    progress(count);
  }
  return chunks;
}

export function size(bytes: number) {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/// A length of time for people: 1 d 2 h 3 min 4 s.
export function duration(seconds: number) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return [d && `${d} d`, (d || h) && `${h} h`, `${m} min`, `${seconds % 60} s`]
    .filter(Boolean)
    .join(' ');
}

export function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
