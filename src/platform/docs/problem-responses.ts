import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE } from '../http/problem';
import { ProblemDto } from '../http/problem.dto';

/**
 * Documents an error response as the queen sends it: RFC 9457 problem JSON
 * under `application/problem+json` (`@ApiNotFoundResponse({ type })` would
 * say `application/json`). Not named `Api…Response`: the Swagger CLI plugin
 * takes decorators so named for the operation's success response and would
 * then leave out the one it infers.
 */
export function ApiProblem(status: number, description: string, type: new () => ProblemDto = ProblemDto): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(type),
    ApiResponse({
      status,
      description,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(type) } } },
    }),
  );
}

/**
 * The errors every admin route can answer with: a bad request, a missing token (when QUEEN_API_TOKEN is
 * set), and a refusal while the queen is overloaded.
 */
export function ApiAdminProblems(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiProblem(400, 'Invalid request: `errors` names each bad field'),
    ApiProblem(401, 'Missing or wrong `Authorization: Bearer <QUEEN_API_TOKEN>`'),
    ApiProblem(429, 'The queen is overloaded; try again after `Retry-After` seconds'),
  );
}

/** The errors of a route that reads a JSON body. */
export function ApiBodyProblems(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiProblem(413, 'Request body larger than 1 MiB'),
    ApiProblem(415, 'Request body in an encoding or charset the queen does not read'),
  );
}

/** The error of a route that writes the catalog while its database is busy or away. */
export function ApiDatabaseProblem(): MethodDecorator & ClassDecorator {
  return ApiProblem(503, 'The catalog database is busy or unreachable; try again after `Retry-After` seconds');
}
