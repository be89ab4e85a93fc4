// The console's keys, namespaces and tags, administration and restore-authorization pages in a
// real browser (run by crates/cli/tests/api/console_pages.rs, which starts the server, listens
// for syslog on STRONGROOM_SYSLOG_PORT and checks afterwards, through the APIs, what this run
// left behind). A key's certificate is made by openssl for the public key the page shows.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, BASE, FINGERPRINT, SHOTS, fail, launch } from './browser.mjs';

const SYSLOG_PORT = process.env.STRONGROOM_SYSLOG_PORT;
if (!SYSLOG_PORT) fail('STRONGROOM_SYSLOG_PORT must be set');
const USER_PASS = 'console pages user passphrase';
const KEY = 'conkey1';

const { page, check, see, open, signIn, signOut, finish } = await launch();

/// A certificate for the given public key, signed by a throwaway CA key, by openssl.
function certificateFor(publicPem) {
  const dir = mkdtempSync(join(tmpdir(), 'console-cert-'));
  try {
    writeFileSync(join(dir, 'key.pub'), publicPem);
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'ca.key')]);
    execFileSync('openssl', [
      'x509', '-new', '-key', join(dir, 'ca.key'), '-force_pubkey', join(dir, 'key.pub'),
      '-subj', `/CN=${KEY}`, '-days', '30', '-out', join(dir, 'cert.pem'),
    ]);
    return readFileSync(join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await page.goto(`${BASE}/console/`);
await signIn('admin', ADMIN);
await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
// Not in a cluster: the members' route answers so, and the dashboard says it plainly.
await see('Single node: this node is not in a cluster.');
await check('dashboard-admin');
// In a cluster the members are listed. This node is in none, so the browser is handed the
// spec's example answer (ClusterMemberList) for this one request, to check how it is shown.
await page.route('**/api/v1/cluster/members', (route) =>
  route.fulfill({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify([
      { id: '8e9e05c52164694d', name: 'default', urls: ['https://192.168.1.1:2380'], learner: false },
      { id: '91bc3c398fb3c146', name: 'node2', urls: ['https://192.168.1.2:2380'], learner: true, healthy: false },
    ]),
  }),
);
await page.reload();
await page.getByRole('row', { name: /default.*8e9e05c52164694d.*192\.168\.1\.1:2380.*voting member.*not reported/ }).waitFor();
await page.getByRole('row', { name: /node2.*learner.*unhealthy/ }).waitFor();
await check('dashboard-cluster');
await page.unroute('**/api/v1/cluster/members');
await page.reload();
await see('Single node: this node is not in a cluster.');

// Keys: generate one (an RSA length first must be one of the offered ones), see its public
// key, store a certificate (a foreign one first is refused), delete it, delete the key.
await open('keys', 'Keys');
await see('No key is stored');
await page.getByLabel('Key id').fill(KEY);
await page.getByLabel('Key type').selectOption('EC_P256');
await page.getByRole('checkbox', { name: 'ECDSA_Signature' }).check();
await page.getByLabel('Restricted to tags').fill('blue');
await page.getByRole('button', { name: 'Generate key' }).click();
await see(`Key ${KEY} generated.`);
await page.getByRole('row', { name: new RegExp(`${KEY}.*EC_P256.*ECDSA_Signature.*blue`) }).waitFor();
const pemField = page.getByLabel('Public key (PEM)');
await page.waitForFunction(() => document.querySelector('textarea.pem')?.value.includes('BEGIN PUBLIC KEY'));
const publicPem = await pemField.inputValue();
const fromApi = await page.evaluate(async (url) => {
  const session = await (await fetch('/console/api/session')).json();
  const r = await fetch(url, { headers: { Accept: 'application/x-pem-file', 'X-Strongroom-Csrf': session.csrfToken } });
  return r.text();
}, `/api/v1/keys/${KEY}/public.pem`);
if (publicPem !== fromApi) fail('the page shows another public key than the API serves');
// openssl reads it as a P-256 key.
const text = execFileSync('openssl', ['pkey', '-pubin', '-noout', '-text'], { input: publicPem }).toString();
if (!/prime256v1|P-256/.test(text)) fail(`openssl does not read a P-256 key: ${text}`);
await see('No certificate is stored with this key.');
await page.getByRole('button', { name: 'Copy public key' }).click();
await page.getByText(/Copied to the clipboard\.|Selected: copy it with Ctrl\+C\./).first().waitFor();
// The served TLS certificate is a valid certificate, but not of this key.
const tlsCert = await page.evaluate(async () => (await fetch('/api/v1/config/tls/cert.pem', {
  headers: { 'X-Strongroom-Csrf': (await (await fetch('/console/api/session')).json()).csrfToken },
})).text());
await page.getByLabel('Upload a certificate (PEM)').fill(tlsCert);
await page.getByRole('button', { name: 'Store certificate' }).click();
await page.getByRole('alert').getByText("The certificate's public key is not the key's.").waitFor();
const cert = certificateFor(publicPem);
await page.getByLabel('Upload a certificate (PEM)').fill(cert);
await page.getByRole('button', { name: 'Store certificate' }).click();
await see(`Certificate of ${KEY} stored.`);
// A key holds one certificate: no second one is offered until this one is deleted.
await see('A key holds one certificate: delete this one to store another.');
if (await page.getByLabel('Upload a certificate (PEM)').count()) fail('a second certificate is offered');
await page.waitForFunction(() => [...document.querySelectorAll('textarea.pem')].some((t) => t.value.includes('BEGIN CERTIFICATE')));
await check('keys');
await page.getByRole('button', { name: 'Delete certificate' }).click();
await see(`Certificate of ${KEY} deleted.`);
await see('No certificate is stored with this key.');
// A second key stays, for the Rust side to find.
await page.getByLabel('Key id').fill('conkey2');
await page.getByLabel('Key type').selectOption('RSA');
await page.getByLabel('Length (bits)').selectOption('2048');
await page.getByRole('button', { name: 'Generate key' }).click();
await see('Key conkey2 generated.');
await page.getByRole('button', { name: `Show key ${KEY}` }).click();
await page.getByRole('button', { name: `Delete key ${KEY}` }).click();
await see(`Key ${KEY} deleted.`);
await page.getByRole('row', { name: new RegExp(`^${KEY}`) }).waitFor({ state: 'detached' });
await page.getByRole('row', { name: /conkey2.*RSA/ }).waitFor();

// Users: an Operator's tags, and a namespace (its Administrator first, as NetHSM wants).
await open('users', 'Users');
for (const [id, role] of [
  ['op2', 'Operator'],
  ['ns1~admin', 'Administrator'],
]) {
  await page.getByLabel('User id').fill(id);
  await page.getByLabel('Name', { exact: true }).fill(`${role} user`);
  await page.getByLabel('Role').selectOption(role);
  await page.getByLabel('Passphrase').fill(USER_PASS);
  await page.getByRole('button', { name: 'Create user' }).click();
  await see(`User ${id} created.`);
}
await page.getByRole('row', { name: /ns1~admin.*Administrator.*ns1/ }).waitFor();
await page.getByLabel('New tag for op2').fill('blue');
await page.getByRole('button', { name: 'Add tag' }).click();
await see('Tag blue given to op2.');
await page.getByLabel('New tag for op2').fill('green');
await page.getByRole('button', { name: 'Add tag' }).click();
await page.getByRole('button', { name: 'Remove tag green from op2' }).click();
await see('Tag green removed from op2.');
await page.getByRole('button', { name: 'Remove tag green from op2' }).waitFor({ state: 'detached' });
await page.getByRole('list', { name: 'Tags of op2' }).getByText('blue').waitFor();
await page.getByLabel('Namespace', { exact: true }).fill('ns1');
await page.getByRole('button', { name: 'Create namespace' }).click();
await see('Namespace ns1 created.');
await page.getByRole('list', { name: 'Namespaces' }).getByText('ns1').waitFor();
await check('users-namespaces');

// Administration: the certificate, a CSR, syslog (with a test message), time, services, and a
// support bundle made, downloaded and deleted.
await open('admin', 'Administration');
await see('SHA-256 fingerprint');
if (FINGERPRINT) {
  const shown = await page.locator('dd', { hasText: /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/ }).first().innerText();
  if (shown.toUpperCase() !== FINGERPRINT.toUpperCase()) fail(`the certificate shown is ${shown}, served ${FINGERPRINT}`);
}
await see(/days left/);
await page.getByLabel('Common name').fill('strongroom.example.org');
await page.getByLabel('DNS names').fill('strongroom.example.org');
await page.getByRole('button', { name: 'Generate CSR' }).click();
await see('CSR made.');
const csr = await page.getByLabel('CSR (PEM)').inputValue();
const csrText = execFileSync('openssl', ['req', '-noout', '-verify', '-subject'], { input: csr }).toString();
if (!csrText.includes('strongroom.example.org')) fail(`openssl reads the CSR as ${csrText}`);
await see('The logs are sent to no syslog server.');
await page.getByLabel('Syslog host').fill('127.0.0.1');
await page.getByLabel('Syslog port').fill('70000');
await page.getByRole('button', { name: 'Add syslog server' }).click();
await page.getByRole('alert').getByText('The port is a number from 1 to 65535.').waitFor();
await page.getByLabel('Syslog port').fill(SYSLOG_PORT);
await page.getByRole('button', { name: 'Add syslog server' }).click();
await see(`Logs are sent to 127.0.0.1:${SYSLOG_PORT} (UDP) too.`);
await see(`127.0.0.1:${SYSLOG_PORT} (UDP)`);
await page.getByRole('button', { name: 'Send a test message' }).click();
await see('Test message sent.');
await see('Appliance time');
await page.getByRole('button', { name: 'Save time settings' }).click();
await see('Nothing changed.');
await page.getByLabel('Time zone').selectOption('Europe/Berlin');
await page.getByLabel('Synchronization').selectOption('HOST');
await page.getByRole('button', { name: 'Save time settings' }).click();
await see('Time settings saved.');
await page.locator('dd', { hasText: 'Europe/Berlin' }).waitFor();
await page.getByRole('button', { name: /^Restart / }).first().waitFor();
await page.getByRole('button', { name: 'Create a support bundle' }).click();
await see(/Support bundle .+ made\./);
const bundleRow = page.getByRole('button', { name: /^Download support bundle / }).first();
const bundleKey = (await bundleRow.getAttribute('aria-label')).replace('Download support bundle ', '');
await check('admin');
const download = page.waitForEvent('download');
await bundleRow.click();
const saved = join(SHOTS, 'support-bundle.tar');
await (await download).saveAs(saved);
await see(`Support bundle ${bundleKey} downloaded.`);
const tar = readFileSync(saved);
if (tar.length < 512 || tar.subarray(257, 262).toString() !== 'ustar') fail('the support bundle is not a tar file');
const listing = execFileSync('tar', ['-tf', saved]).toString();
if (!listing.trim()) fail('the support bundle is empty');
if (tar.includes(Buffer.from(ADMIN)) || tar.includes(Buffer.from(USER_PASS))) fail('the support bundle holds a passphrase');
await page.getByRole('button', { name: `Delete support bundle ${bundleKey}` }).click();
await see(`Support bundle ${bundleKey} deleted.`);
await see('No support bundle is kept.');

// A restore authorization, opened with the client's passkey, counts down its time left.
await open('clients', 'Backup clients');
await page.getByLabel('Name', { exact: true }).fill('db2');
await page.getByLabel('Host name').fill('db2.example.org');
await page.getByRole('button', { name: 'Register client' }).click();
await see('Client db2 registered.');
await page.getByLabel('Operation').selectOption('CREATE');
await page.getByLabel('New passkey', { exact: true }).fill('db2 passkey');
await page.getByLabel('Confirm the new passkey').fill('db2 passkey');
await page.getByRole('button', { name: 'Apply' }).click();
await see('Passkey updated.');
await page.getByLabel('Operation').selectOption('AUTHORIZE');
await page.getByLabel('Passkey', { exact: true }).fill('not the passkey');
await page.getByRole('button', { name: 'Apply' }).click();
await page.getByRole('alert').waitFor();
await page.getByLabel('Passkey', { exact: true }).fill('db2 passkey');
await page.getByRole('button', { name: 'Apply' }).click();
await see('Restores authorized.');
const timer = page.getByRole('timer');
await timer.waitFor();
const first = await timer.innerText();
// The default window is 30 minutes: what is left is at most that (the Date header the
// countdown corrects the clock by has whole seconds) and more than 28 minutes.
const [, min, sec] = /^(\d+) min (\d+) s left$/.exec(first) ?? fail(`time left: ${first}`);
const left = Number(min) * 60 + Number(sec);
if (!(left > 28 * 60 && left <= 30 * 60)) fail(`time left: ${first}`);
// It counts down while the page is open.
await page.waitForFunction((before) => document.querySelector('[role=timer]')?.textContent !== before, first);
await page.getByRole('button', { name: 'Ask the restore decision for db2' }).click();
await see('allowed (authorized');
await check('clients-authorized');
// Ending it (with the passkey, as backup software does) stops the countdown.
await page.getByLabel('Operation').selectOption('END');
await page.getByLabel('Passkey', { exact: true }).fill('db2 passkey');
await page.getByRole('button', { name: 'Apply' }).click();
await see('Restore authorization ended.');
await page.getByRole('timer').waitFor({ state: 'detached' });
await page.getByRole('button', { name: 'Ask the restore decision for db2' }).click();
await see('refused (passkey-required)');
await signOut();

// A namespace's Administrator sees no administration and no namespaces.
await signIn('ns1~admin', USER_PASS);
await page.getByText('ns1~admin (Administrator)').waitFor();
await open('admin', 'Administration');
await see('The appliance’s administration is for the root Administrator');
await open('keys', 'Keys');
await see('No key is stored in ns1.');
await signOut();

await finish();
console.log('console pages: all checks passed');
