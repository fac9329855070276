import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

/** The payment service's Prisma client and the client a transaction callback receives. */
export type PaymentPrisma = PrismaClient;
export type Transaction = Prisma.TransactionClient;
export type JsonInput = Prisma.InputJsonValue;
