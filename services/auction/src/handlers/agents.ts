import { endpoint, type Registration } from '@zerostate/bus';
import {
  auctionEndpoints,
  hasScope,
  type Principal,
  type ResponseOf,
  type Scope,
} from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import {
  type AgentRecord,
  findAgent,
  insertAgent,
  type SearchCursor,
  searchAgents,
  updateAgent,
} from '../db/agents.js';
import type { AuctionPrisma } from '../db/prisma.js';
import { agentDid } from '../domain/agents.js';
import type { Prisma } from '../generated/prisma/client.js';

export interface AgentDependencies {
  prisma: AuctionPrisma;
  kickOutbox(): void;
}

type AgentView = ResponseOf<typeof auctionEndpoints.getAgent>;

export function encodeAgent(agent: AgentRecord): AgentView {
  return {
    id: agent.id,
    did: agent.did,
    owner_id: agent.ownerId,
    name: agent.name,
    description: agent.description,
    capabilities: agent.capabilities,
    price_per_task: Number(agent.pricePerTask),
    status: agent.status,
    max_capacity: agent.maxCapacity,
    current_load: agent.currentLoad,
    region: agent.region,
    reputation: agent.reputationHundredths / 100,
    metadata: agent.metadata,
    last_seen_at: agent.lastSeenAt.toISOString(),
    created_at: agent.createdAt.toISOString(),
    updated_at: agent.updatedAt.toISOString(),
  };
}

/** A user or a user's API key with `scope`; agents belong to users, never to services. */
export function requireUser(principal: Principal | undefined, scope: Scope): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED');
  if (principal.kind === 'service') throw new AppError('UNAUTHENTICATED');
  if (!hasScope(principal, scope)) {
    throw new AppError('INSUFFICIENT_SCOPE', undefined, { details: { required_scope: scope } });
  }
  return principal;
}

/** A search cursor is `<score>:<agent id>`, base64url. */
function encodeCursor(cursor: SearchCursor): string {
  return Buffer.from(`${cursor.score}:${cursor.id}`).toString('base64url');
}

function decodeCursor(cursor: string): SearchCursor {
  const match = /^(\d{1,9}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  if (!match)
    throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
  return { score: Number(match[1]), id: match[2]! };
}

const retiredConflict = () => new AppError('CONFLICT', 'The agent was deleted; it can change no more.');

/** register, list, get, update, retire, heartbeat: the agent registry (SPEC §5b "Agents"). */
export function agentRegistrations({ prisma, kickOutbox }: AgentDependencies): Registration[] {
  const register = endpoint(auctionEndpoints.registerAgent, async (input, context) => {
    const caller = requireUser(context.principal, 'agents:write');
    const publicKey = input.public_key ? Buffer.from(input.public_key, 'base64url') : undefined;
    if (publicKey && publicKey.length !== 32) {
      throw new AppError('VALIDATION_FAILED', undefined, {
        details: [{ path: 'public_key', message: 'An Ed25519 public key has 32 bytes.' }],
      });
    }
    const agent = await insertAgent(prisma, {
      ownerId: caller.user_id,
      name: input.name,
      description: input.description ?? null,
      capabilities: input.capabilities,
      pricePerTask: BigInt(input.price_per_task),
      maxCapacity: input.max_capacity ?? 10,
      region: input.region ?? null,
      metadata: input.metadata ?? {},
      didOf: (id) => agentDid({ id, publicKey }),
    });
    kickOutbox();
    return encodeAgent(agent);
  });

  const list = endpoint(auctionEndpoints.listAgents, async (input) => {
    const page = await searchAgents(prisma, {
      capabilities: input.capabilities,
      status: input.status,
      region: input.region,
      minReputationHundredths:
        input.min_reputation === undefined ? undefined : Math.ceil(input.min_reputation * 100),
      after: input.cursor === undefined ? undefined : decodeCursor(input.cursor),
      limit: input.limit,
    });
    const last = page.items.at(-1);
    return {
      items: page.items.map(encodeAgent),
      next_cursor: page.hasMore && last ? encodeCursor({ score: last.score, id: last.id }) : null,
    };
  });

  const get = endpoint(auctionEndpoints.getAgent, async (input) => {
    const agent = await findAgent(prisma, input.id);
    if (!agent) throw new AppError('NOT_FOUND');
    return encodeAgent(agent);
  });

  /** Runs an owner's change; the outcomes every write route shares. */
  const change = async (
    id: string,
    ownerId: string,
    decide: (agent: AgentRecord) => Prisma.AgentUpdateInput | 'retired' | undefined,
  ) => {
    const outcome = await updateAgent(prisma, { id, ownerId, change: decide });
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'retired') throw retiredConflict();
    kickOutbox();
    return outcome;
  };

  const update = endpoint(auctionEndpoints.updateAgent, async (input, context) => {
    const caller = requireUser(context.principal, 'agents:write');
    const agent = await change(input.id, caller.user_id, (current) => {
      if (current.retiredAt) return 'retired';
      const capacity = input.max_capacity ?? current.maxCapacity;
      if (capacity < current.currentLoad) {
        throw new AppError('CONFLICT', 'max_capacity cannot go below the current load.');
      }
      return {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.capabilities !== undefined ? { capabilities: input.capabilities } : {}),
        ...(input.price_per_task !== undefined ? { pricePerTask: BigInt(input.price_per_task) } : {}),
        ...(input.max_capacity !== undefined ? { maxCapacity: input.max_capacity } : {}),
        ...(input.region !== undefined ? { region: input.region } : {}),
        ...(input.metadata !== undefined ? { metadata: input.metadata as Prisma.InputJsonValue } : {}),
      };
    });
    return encodeAgent(agent);
  });

  const retire = endpoint(auctionEndpoints.retireAgent, async (input, context) => {
    const caller = requireUser(context.principal, 'agents:write');
    await change(input.id, caller.user_id, (current) =>
      current.retiredAt ? undefined : { status: 'offline', retiredAt: new Date() },
    );
    return {};
  });

  const heartbeat = endpoint(auctionEndpoints.heartbeat, async (input, context) => {
    const caller = requireUser(context.principal, 'agents:write');
    const agent = await change(input.id, caller.user_id, (current) => {
      if (current.retiredAt) return 'retired';
      return { lastSeenAt: new Date(), ...(current.status === 'offline' ? { status: 'online' } : {}) };
    });
    return encodeAgent(agent);
  });

  return [register, list, get, update, retire, heartbeat];
}
