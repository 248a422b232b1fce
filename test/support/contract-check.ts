/**
 * Jest setup (setupFilesAfterEnv): a test during which a test queen sent a response that its OpenAPI
 * document does not describe fails, naming the response and what is wrong with it (see contract.ts).
 */
import { takeContractViolations } from './contract';

afterEach(() => {
  const violations = takeContractViolations();
  if (violations.length > 0) {
    throw new Error(`${violations.length} response(s) do not match the OpenAPI document:\n${violations.slice(0, 10).join('\n')}`);
  }
});
