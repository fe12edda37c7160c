"""Text to intent: one utterance, a batch, and Rasa's `/model/parse` shape for existing Rasa clients."""

from __future__ import annotations

from assistant.nlu.result import ParseResult
from assistant.server.api import Endpoints, state
from assistant.server.errors import ApiError
from assistant.server.schemas import (BatchParsed, BatchRequest, Parsed, ParseRequest, RasaEntity, RasaIntent, RasaParseRequest,
                                      RasaParseResponse)

endpoints = Endpoints("nlu")


def check_text(text: str, where: str = "text") -> None:
    limit = state().settings.server.max_text_chars
    if len(text) > limit:
        raise ApiError(413, f"{where}: {len(text)} characters is over the {limit} allowed (server.max_text_chars)")


@endpoints.operation("/v1/parse", "POST", "Understand one utterance: intent, slots, confidences, out-of-scope.",
                     body=ParseRequest, response=Parsed, errors=(503,))
def parse(body: ParseRequest):
    check_text(body.text)
    loaded = state().service.current()
    return Parsed(**loaded.batcher.parse(body.text, threshold=body.threshold, repair=body.repair).model_dump(), model=loaded.version)


@endpoints.operation("/v1/parse/batch", "POST", "Understand many utterances at once (in order).",
                     body=BatchRequest, response=BatchParsed, errors=(503,))
def parse_batch(body: BatchRequest):
    limit = state().settings.server.max_batch
    if len(body.texts) > limit:
        raise ApiError(413, f"{len(body.texts)} texts is over the {limit} allowed in one batch (server.max_batch)")
    for i, text in enumerate(body.texts):
        check_text(text, f"texts.{i}")
    loaded = state().service.current()
    return BatchParsed(model=loaded.version, results=loaded.parser.parse_batch(body.texts, threshold=body.threshold, repair=body.repair))


@endpoints.operation("/model/parse", "POST", "Rasa-compatible parse: the shape Rasa's HTTP API returns.", tag="rasa",
                     body=RasaParseRequest, response=RasaParseResponse, errors=(503,))
def rasa_parse(body: RasaParseRequest):
    check_text(body.text)
    return to_rasa(state().service.current().batcher.parse(body.text, repair=body.repair))


def to_rasa(result: ParseResult) -> RasaParseResponse:
    """A `ParseResult` in Rasa's shape; out of scope becomes Rasa's `nlu_fallback` intent."""
    ranking = [RasaIntent(name=s.name, confidence=s.confidence) for s in result.intent_ranking]
    if result.intent is not None:
        intent = RasaIntent(name=result.intent.name, confidence=result.intent.confidence)
    elif ranking:
        intent = RasaIntent(name="nlu_fallback", confidence=round(1.0 - ranking[0].confidence, 4))
        ranking = [intent] + ranking
    else:
        intent = RasaIntent(name=None, confidence=0.0)
    entities = [RasaEntity(entity=e.slot, value=e.value, start=e.start, end=e.end, confidence_entity=e.confidence, text=e.text)
                for e in result.entities]
    return RasaParseResponse(text=result.text, intent=intent, entities=entities, intent_ranking=ranking)
