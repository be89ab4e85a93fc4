// The console in a real browser: Playwright drives Debian's headless chromium against a running
// server (started and provisioned by crates/cli/tests/api/console.rs, which passes its address
// and passphrases in the environment). Each page is checked with axe-core (no serious or
// critical violation), screenshotted into STRONGROOM_SCREENSHOTS, and any Content-Security-
// Policy violation the browser reports fails the run.
import { join } from 'node:path';
import { request } from 'playwright-core';
import { ADMIN, BASE, FINGERPRINT, SHOTS, UNLOCK, fail, launch } from './browser.mjs';

const BACKUP_USER = 'backup1';
const BACKUP_PASS = 'backup user passphrase 1';

const { context, page, check, see, open, signIn, signOut, finish } = await launch();

await page.goto(`${BASE}/console/`);

// A wrong password shows an error, and opens nothing.
await signIn('admin', 'not the passphrase');
await page.getByRole('alert').getByText('Wrong user id or passphrase.').waitFor();
await check('sign-in');
// After a failure the same user is refused for a second (the faces' rate limit).
await page.waitForTimeout(1500);
await signIn('admin', ADMIN);
await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
await see('SHA-256 fingerprint');
await page.locator('dd', { hasText: /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/ }).waitFor();
if (FINGERPRINT && !(await page.getByText(FINGERPRINT, { exact: true }).count())) {
  fail(`the dashboard does not show the fingerprint ${FINGERPRINT}`);
}
await check('dashboard');

// Lock, then unlock from the console, then sign in again.
await page.getByRole('button', { name: 'Lock the node' }).click();
await page.getByRole('heading', { name: 'Unlock Strongroom' }).waitFor();
await check('unlock');
await page.getByLabel('Unlock passphrase').fill(UNLOCK);
await page.getByRole('button', { name: 'Unlock' }).click();
await signIn('admin', ADMIN);
await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();

// Users: create a Backup user and an Operator, delete the Operator.
await open('users', 'Users');
for (const [id, role] of [
  [BACKUP_USER, 'Backup'],
  ['metrics1', 'Metrics'],
  ['op1', 'Operator'],
]) {
  await page.getByLabel('User id').fill(id);
  await page.getByLabel('Name', { exact: true }).fill(`${role} user`);
  await page.getByLabel('Role').selectOption(role);
  await page.getByLabel('Passphrase').fill(BACKUP_PASS);
  await page.getByRole('button', { name: 'Create user' }).click();
  await see(`User ${id} created.`);
  await page.getByRole('row', { name: new RegExp(`${id}.*${role}`) }).waitFor();
}
await page.getByRole('button', { name: 'Delete user op1' }).click();
await see('User op1 deleted.');
await page.getByRole('row', { name: /op1/ }).waitFor({ state: 'detached' });
await check('users');

// Backup clients: register one, set its passkey, ask the restore decision.
await open('clients', 'Backup clients');
await page.getByLabel('Name', { exact: true }).fill('db1');
await page.getByLabel('Host name').fill('db1.example.org');
await page.getByRole('button', { name: 'Register client' }).click();
await see('Client db1 registered.');
await page.getByLabel('Operation').selectOption('CREATE');
await page.getByLabel('New passkey', { exact: true }).fill('client passkey 1');
await page.getByLabel('Confirm the new passkey').fill('client passkey 2');
await page.getByRole('button', { name: 'Apply' }).click();
await page.getByRole('alert').waitFor(); // the passkeys differ: refused
await page.getByLabel('Confirm the new passkey').fill('client passkey 1');
await page.getByRole('button', { name: 'Apply' }).click();
await see('Passkey updated.');
await page.getByRole('row', { name: /db1.*set/ }).waitFor();
await page.getByRole('button', { name: 'Ask the restore decision for db1' }).click();
await see('refused (passkey-required)');
await check('clients');

// The backup passphrase, which a backup needs.
await open('backup', 'Backup');
await page.getByLabel('New backup passphrase').fill('backup passphrase for the console');
await page.getByRole('button', { name: 'Set passphrase' }).click();
await see('Backup passphrase set.');

// The appliance password's policy, checked live by the server.
await open('password', 'Appliance password');
await page.getByLabel('New password', { exact: true }).fill('short');
await page.getByText('Not met: The new password must be at least 8 characters long.').waitFor();
if (!(await page.getByRole('button', { name: 'Change password' }).isDisabled())) fail('a weak password can be sent');
await page.getByLabel('New password', { exact: true }).fill('Longer1!pass');
await page.locator('#password-rules li.ok').nth(6).waitFor();
if (await page.locator('#password-rules li.error').count()) fail('a good password breaks a rule');
await check('password');
// The change itself, through the appliance face: a wrong current password is refused, the
// right one changes it, and this session lives on.
await page.getByLabel('New password again').fill('Longer1!pass');
await page.getByLabel('Current password').fill('not the password');
await page.getByRole('button', { name: 'Change password' }).click();
await page.getByRole('alert').getByText('The current password is incorrect.').waitFor();
await page.waitForTimeout(1500); // the failure's one-second limit
await page.getByLabel('Current password').fill(ADMIN);
await page.getByRole('button', { name: 'Change password' }).click();
await see('Password changed.');
const ADMIN_NOW = 'Longer1!pass';

// The audit trail shows what was done, under whom, and that the chain verifies.
await open('audit', 'Audit trail');
await see('The chain verifies');
for (const action of [
  'POST /api/v1/lock',
  'POST /api/v1/unlock',
  'PUT /api/v1/users/{UserID}',
  'DELETE /api/v1/users/{UserID}',
  'POST /api/strongroom/v1/clients',
  'POST /commandcenter/api/client/{client_id}/passkey',
  'restore decision: restore',
  'POST /console/api/session',
]) {
  await page.getByRole('cell', { name: action, exact: true }).first().waitFor();
}
await page.getByLabel('What (action or target)').fill('passkey');
await page.getByRole('cell', { name: 'POST /commandcenter/api/client/{client_id}/passkey', exact: true }).first().waitFor();
if (await page.getByRole('cell', { name: 'POST /api/v1/lock', exact: true }).count()) fail('the filter kept other events');
await page.getByLabel('What (action or target)').fill('');
await check('audit');

// Sign-out ends the session on the server: the cookie, replayed with its CSRF token, no
// longer works.
const session = await page.evaluate(async () => (await fetch('/console/api/session')).json());
const cookie = (await context.cookies()).find((c) => c.name === '__Host-strongroom-console');
if (!cookie || !cookie.httpOnly || !cookie.secure || cookie.sameSite !== 'Strict') {
  fail(`cookie flags: ${JSON.stringify({ ...cookie, value: undefined })}`);
}
const replay = await request.newContext({
  ignoreHTTPSErrors: true,
  extraHTTPHeaders: {
    cookie: `${cookie.name}=${cookie.value}`,
    'x-strongroom-csrf': session.csrfToken,
    origin: BASE,
  },
});
if ((await replay.get(`${BASE}/api/v1/users`)).status() !== 200) fail('the live cookie does not work');
await signOut();
const after = (await replay.get(`${BASE}/api/v1/users`)).status();
if (after !== 401) fail(`the cookie still works after sign-out: ${after}`);
await replay.dispose();

// A Backup user downloads a backup.
await signIn(BACKUP_USER, BACKUP_PASS);
await page.getByText(`${BACKUP_USER} (Backup)`).waitFor();
await open('backup', 'Backup');
const download = page.waitForEvent('download');
await page.getByRole('button', { name: 'Download backup' }).click();
const file = await download;
const saved = join(SHOTS, 'backup.bin');
await file.saveAs(saved);
await see('Backup downloaded');
const { statSync, readFileSync } = await import('node:fs');
if (statSync(saved).size < 64) fail('the backup is empty');
if (readFileSync(saved).includes(Buffer.from(BACKUP_PASS))) fail('the backup holds a passphrase in clear');
await check('backup');
await signOut();

// The appliance password changed for every face: the console's sign-in takes the new one.
await signIn('admin', ADMIN_NOW);
await page.getByText('admin (Administrator)').waitFor();
await signOut();

// A Metrics account sees the request and error rates, drawn from successive readings.
// Keyboard only: type into the focused fields, Tab between them, Enter submits.
await page.getByRole('heading', { name: 'Sign in to Strongroom' }).waitFor();
await page.getByLabel('User id').focus();
await page.keyboard.type('metrics1');
await page.keyboard.press('Tab');
await page.keyboard.type(BACKUP_PASS);
await page.keyboard.press('Enter');
await page.getByText('metrics1 (Metrics)').waitFor();
await open('dashboard', 'Dashboard');
await page.getByText(/^\d+\.\d\d per second$/).first().waitFor();
await page.getByRole('img', { name: 'Requests per second, last minutes' }).waitFor();
await page.getByRole('img', { name: 'Errors per second, last minutes' }).waitFor();
await page.getByRole('img', { name: 'Mean latency, last minutes' }).waitFor();
await page.getByText(/^\d+\.\d\d ms$/).first().waitFor();
await check('dashboard-metrics');
await signOut();

await finish();
console.log('console: all checks passed');
