// The cluster's members (NetHSM's GET /cluster/members, root Administrator), on the dashboard.
// A node that is not in a cluster answers 412 (or 404 where the route is not served): it is
// shown as a single node.
import { ApiError, NETHSM, type Session, getJson } from '../api';
import { Card, useLoad } from '../ui';

/// The spec's `ClusterMember`, and `healthy`, which Strongroom adds (docs/cluster.md); a
/// server without it leaves it out.
interface Member {
  id: string;
  name: string;
  urls: string[];
  learner: boolean;
  healthy?: boolean;
}

type Members = { single: true } | { single: false; members: Member[] };

async function loadMembers(): Promise<Members> {
  try {
    return { single: false, members: await getJson<Member[]>(`${NETHSM}/cluster/members`) };
  } catch (e) {
    if (e instanceof ApiError && (e.status === 412 || e.status === 404)) return { single: true };
    throw e;
  }
}

export function Cluster({ session }: { session: Session }) {
  const root = session.role === 'Administrator' && !session.namespace;
  const members = useLoad(() => (root ? loadMembers() : Promise.resolve(null)));
  const m = members.data;
  return (
    <Card title="Cluster" wide>
      {!root && <p>The cluster’s members are listed for the root Administrator.</p>}
      {members.error && <p class="error">Cluster members not available: {members.error}</p>}
      {m && m.single && <p>Single node: this node is not in a cluster.</p>}
      {m && !m.single && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Cluster members</caption>
            <thead>
              <tr>
                <th scope="col">Member</th>
                <th scope="col">Id</th>
                <th scope="col">Peer addresses</th>
                <th scope="col">Vote</th>
                <th scope="col">Health</th>
              </tr>
            </thead>
            <tbody>
              {m.members.map((x) => (
                <tr key={x.id}>
                  <th scope="row">{x.name || '(not started)'}</th>
                  <td>{x.id}</td>
                  <td class="target">{x.urls.join(', ')}</td>
                  <td>{x.learner ? 'learner (no vote yet)' : 'voting member'}</td>
                  <td class={x.healthy === false ? 'error' : x.healthy ? 'ok' : ''}>
                    {x.healthy === undefined ? 'not reported' : x.healthy ? 'healthy' : 'unhealthy'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
