import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

/** The auction service's Prisma client and the client a transaction callback receives. */
export type AuctionPrisma = PrismaClient;
export type Transaction = Prisma.TransactionClient;
