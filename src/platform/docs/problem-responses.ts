import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE } from '../http/problem';
import { ProblemDto } from '../http/problem.dto';

/**
 * Documents an error response as the queen sends it: RFC 9457 problem JSON
 * under `application/problem+json` (`@ApiNotFoundResponse({ type })` would
 * say `application/json`).
 */
export function ApiProblemResponse(
  status: number,
  description: string,
  type: new () => ProblemDto = ProblemDto,
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(type),
    ApiResponse({
      status,
      description,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(type) } } },
    }),
  );
}

/** The errors every admin route can answer with: a bad request and, when QUEEN_API_TOKEN is set, a missing token. */
export function ApiAdminProblems(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiProblemResponse(400, 'Invalid request: `errors` names each bad field'),
    ApiProblemResponse(401, 'Missing or wrong `Authorization: Bearer <QUEEN_API_TOKEN>`'),
  );
}
