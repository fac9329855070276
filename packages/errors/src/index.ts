export { AppError, type ErrorBody, type ErrorDetails, toAppError } from './app-error.js';
export { type ErrorCode, errorCatalog, errorCodes, httpStatusOf, isErrorCode } from './catalog.js';
