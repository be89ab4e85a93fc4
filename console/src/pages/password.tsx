// The appliance password (the appliance face's POST /appliance/settings/access/password), with
// the policy checked as the user types by the server's own rules and messages
// (POST /api/strongroom/v1/password-policy/check): nothing of the policy is copied here.
import { useEffect, useState } from 'preact/hooks';
import { APPLIANCE, STRONGROOM, describe, send } from '../api';
import { Card, Field, Message, useAction } from '../ui';
import type { PageProps } from './dashboard';

interface Rules {
  ok: boolean;
  rules: { code: string; message: string; met: boolean }[];
}

export function Password({ session }: PageProps) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [rules, setRules] = useState<Rules | null>(null);
  const [checkError, setCheckError] = useState<string | null>(null);
  const [outcome, busy, act] = useAction();

  useEffect(() => {
    let live = true;
    const timer = setTimeout(async () => {
      try {
        const r = await send<Rules>('POST', `${STRONGROOM}/password-policy/check`, { password: next });
        if (live) (setRules(r), setCheckError(null));
      } catch (e) {
        if (live) setCheckError(describe(e));
      }
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [next]);

  if (session.role !== 'Administrator' || session.namespace) {
    return <p>The appliance password is the password of a root Administrator’s account.</p>;
  }
  const mismatch = again !== '' && again !== next;
  return (
    <div class="grid">
      <Card title={`Change the password of ${session.userId}`}>
        <form
          onSubmit={act(async () => {
            if (next !== again) throw new Error('The two new passwords differ.');
            await send('POST', `${APPLIANCE}/appliance/settings/access/password`, {
              username: session.userId,
              password: current,
              new_password: next,
            });
            setCurrent('');
            setNext('');
            setAgain('');
            return 'Password changed. Your other sessions have ended.';
          })}
        >
          <Field
            label="Current password"
            type="password"
            value={current}
            onInput={setCurrent}
            autocomplete="current-password"
            required
          />
          <Field
            label="New password"
            type="password"
            value={next}
            onInput={setNext}
            autocomplete="new-password"
            describedBy="password-rules"
            required
          />
          <ul id="password-rules" class="rules" aria-live="polite" aria-label="Password policy">
            {checkError && <li class="error">The policy could not be checked: {checkError}</li>}
            {rules?.rules.map((r) => (
              <li key={r.code} class={r.met ? 'ok' : 'error'}>
                <span aria-hidden="true">{r.met ? '✓ ' : '✗ '}</span>
                <span class="visually-hidden">{r.met ? 'Met: ' : 'Not met: '}</span>
                {r.message}
              </li>
            ))}
          </ul>
          <Field
            label="New password again"
            type="password"
            value={again}
            onInput={setAgain}
            autocomplete="new-password"
            required
          />
          {mismatch && <p class="error">The two new passwords differ.</p>}
          <button type="submit" disabled={busy || !rules?.ok || mismatch}>
            Change password
          </button>
        </form>
        <Message outcome={outcome} />
      </Card>
    </div>
  );
}
