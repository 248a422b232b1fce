import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiHeader, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE } from '../http/problem';
import { ProblemDto } from '../http/problem.dto';

/**
 * Documents an error response as the queen sends it: RFC 9457 problem JSON
 * under `application/problem+json` (`@ApiNotFoundResponse({ type })` would
 * say `application/json`). Not named `Api…Response`: the Swagger CLI plugin
 * takes decorators so named for the operation's success response and would
 * then leave out the one it infers.
 */
export function ApiProblem(
  status: number,
  description: string,
  type: (new () => ProblemDto) | (new () => ProblemDto)[] = ProblemDto,
): MethodDecorator & ClassDecorator {
  // Several types: the answer is one of them (the more specific ones extend ProblemDto, hence anyOf).
  const types = [type].flat();
  const schema = types.length === 1 ? { $ref: getSchemaPath(types[0]) } : { anyOf: types.map((one) => ({ $ref: getSchemaPath(one) })) };
  return applyDecorators(ApiExtraModels(...types), ApiResponse({ status, description, content: { [PROBLEM_CONTENT_TYPE]: { schema } } }));
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

/** The `ETag` response header, as documented on the routes that send it. */
export const ETAG_HEADER_DOC = {
  ETag: { description: 'Strong entity tag of the resource; send it in If-Match to change it only if unchanged since', schema: { type: 'string' } },
};

/** The If-Match request header and its 412, on routes that change a resource with an ETag. */
export function ApiIfMatch(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description: 'Change only if the resource still has this ETag (or any of a comma-separated list; `*`: if it exists)',
      schema: { type: 'string', example: '"3q2-7wQ1Kt0Xl4v9Ybc8aA"' },
    }),
    ApiProblem(412, 'The resource changed since the `If-Match` ETag was read; nothing was changed'),
  );
}

/** The error of a route that writes the catalog while its database is busy or away. */
export function ApiDatabaseProblem(): MethodDecorator & ClassDecorator {
  return ApiProblem(503, 'The catalog database is busy or unreachable; try again after `Retry-After` seconds');
}
