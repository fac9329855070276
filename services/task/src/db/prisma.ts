import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

/** The task service's Prisma client and the client a transaction callback receives. */
export type TaskPrisma = PrismaClient;
export type Transaction = Prisma.TransactionClient;
