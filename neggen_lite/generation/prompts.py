"""The paper's prompt templates as data (Sec. 2.1 and 3.2), rendered through a model's chat template.

Each :class:`Prompt` keeps the paper's wording verbatim (``task`` and ``instructions``) and, separately,
the few firmer lines we add so that small offline models follow it (``firm``, documented as ours).
``render`` turns a prompt and its input into chat messages; a generator applies its own model's chat
template to them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Prompt:
    name: str
    section: str
    task: str                     # the paper's "Task Overview", verbatim
    instructions: tuple[str, ...] = ()  # the paper's "Instructions", verbatim
    firm: tuple[str, ...] = ()    # our additions for small models (not in the paper)
    input_label: str = "Input"
    output_label: str = "Output"
    max_new_tokens: int = 96

    def system(self, firm: bool = True) -> str:
        lines = [f"Task Overview: {self.task}"]
        if self.instructions:
            lines.append("Instructions:")
            lines += [f"- {x}" for x in self.instructions]
        if firm and self.firm:
            lines += [f"- {x}" for x in self.firm]
        return "\n".join(lines)

    def render(self, text: str, firm: bool = True) -> list[dict[str, str]]:
        """Chat messages for input ``text``: a system turn with the task and a user turn with the input."""
        return [{"role": "system", "content": self.system(firm)},
                {"role": "user", "content": f"{self.input_label}: {text}\n{self.output_label}:"}]


DIRECT_GENERATION = Prompt(
    name="direct_generation", section="2.1",
    task=("Given the attributes of a positive item, generate contrasting negative attributes following the "
          "same structure as the positive item. The generated attributes should be semantically similar but "
          "different from the positive item."),
    firm=("Output only the negative attributes, in the same format as the input, and nothing else.",),
    max_new_tokens=96,
)

DESCRIPTION_GENERATION = Prompt(
    name="description_generation", section="3.2.1",
    task=("You are a descriptive writer who excels at capturing the essence and details of items in clear "
          "language. Generate natural, detailed description of the item shown in the given image."),
    firm=("No image is available: describe the item from its attributes given as input.",
          "Write one paragraph of at most 60 words. Output only the description."),
    input_label="Input (item attributes)",
    max_new_tokens=96,
)

ATTRIBUTE_MASKING = Prompt(
    name="attribute_masking", section="3.2.2",
    task="Transform the given item description by masking key feature words with [MASK].",
    instructions=("Analyze the given item description.",
                  "Identify most significant words that represent (1) Core features (2) Distinctive "
                  "characteristics (3) Key specifications",
                  "Replace these words with [MASK].",
                  "Only output the masked description."),
    firm=("Copy every other word exactly; replace between 2 and 6 words, each by the token [MASK].",),
    max_new_tokens=128,
)

ATTRIBUTE_COMPLETION = Prompt(
    name="attribute_completion", section="3.2.3",
    task="Complete the masked product description by filling in the missing words marked with [MASK].",
    instructions=("Analyze the given masked product description.",
                  "Identify the possible words that can be used to complete the masked description.",
                  "Replace the [MASK] tokens with the appropriate words.",
                  "Ensure that the completed description is coherent and meaningful.",
                  "Only the completed description is output."),
    firm=("Use words different from the ones that were masked, so that the product becomes a different one.",
          "The output must not contain [MASK]."),
    input_label="Input (masked description)",
    max_new_tokens=128,
)

PROMPTS = {p.name: p for p in (DIRECT_GENERATION, DESCRIPTION_GENERATION, ATTRIBUTE_MASKING, ATTRIBUTE_COMPLETION)}
#: The NegGen pipeline's generation steps, in order (Sec. 3.2.1-3.2.3); encoding (3.2.4) follows.
PIPELINE = ("description_generation", "attribute_masking", "attribute_completion")


def prompt_hash(prompt: Prompt, text: str | None = None, firm: bool = True) -> str:
    """Stable hash of a prompt (and, when given, its input): keys the generation cache."""
    payload = {"prompt": asdict(prompt), "firm": firm, "input": text}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def prompts_hash(firm: bool = True) -> str:
    """Hash of all templates together (for a generation manifest)."""
    return hashlib.sha256("".join(prompt_hash(p, None, firm) for p in PROMPTS.values()).encode()).hexdigest()[:16]
