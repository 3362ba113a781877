/*
 * Dictionaries of the `dict` generator. company, first_name, last_name,
 * street and city are the masker's lists (stagefork/dict.h), so seeded and
 * masked data look alike; `name` is first_name + " " + last_name; `product`
 * is this file's own adjective x material x noun catalogue.
 *
 * Value i of a dictionary is fixed (lists are append-only), and a
 * composite dictionary enumerates its combinations in mixed radix, so
 * unique columns can address every distinct value by index.
 */
#include <string.h>
#include "seed_internal.h"

#include "stagefork/dict.h"

/* The product catalogue: "<adjective> <material> <noun>". Append only. */
static const char *const adjectives[] = {
    "Heavy-Duty", "Compact", "Premium", "Standard", "Industrial", "Eco", "Professional", "Classic",
    "Reinforced", "Lightweight", "Modular", "Universal", "Insulated", "Stackable", "Foldable", "Sealed",
    "Galvanised", "Anti-Slip", "Extra-Large", "Mini", "Organic", "Refill", "Bulk", "Deluxe",
    "Weatherproof", "Heat-Resistant", "Food-Grade", "Recycled", "Cordless", "Adjustable"};
static const char *const materials[] = {
    "Steel", "Aluminium", "Oak", "Bamboo", "Polymer", "Ceramic", "Glass", "Cotton",
    "Rubber", "Copper", "Nylon", "Brass", "Cardboard", "Silicone", "Stainless", "Carbon"};
static const char *const nouns[] = {
    "Bracket", "Pallet", "Crate", "Hinge", "Valve", "Hose", "Gasket", "Shelf Unit", "Storage Bin",
    "Cable Tie", "Hand Truck", "Ladder", "Drill Bit", "Work Glove", "Safety Helmet", "Tape Roll",
    "Label Printer", "Barcode Scanner", "Packing Box", "Stretch Film", "Floor Mat", "Tool Case",
    "Fastener Kit", "Pipe Clamp", "Water Filter", "Coffee Beans", "Olive Oil", "Pasta", "Rice Bag",
    "Cleaning Spray", "Hand Soap", "Paper Towels", "Notebook", "Desk Lamp", "Office Chair", "Monitor Arm",
    "Spring", "Bearing", "Pulley", "Socket Set", "Wrench", "Padlock", "Door Handle", "Light Bulb",
    "Extension Cord", "Battery Pack", "Fan", "Heater", "Kettle", "Cutlery Set", "Plate", "Mug",
    "Bottle", "Jar", "Lid", "Bucket", "Mop", "Broom", "Sponge", "Trolley"};

#define N(a) ((uint64_t)(sizeof(a) / sizeof((a)[0])))

static const char *const names[SEED_DICT__COUNT] = {"company", "name", "first_name", "last_name",
                                                     "city", "street", "product"};

/* The dictionary named in a spec ("company"), or -1. */
int seed_dict_find(const char *name)
{
    for (int i = 0; i < SEED_DICT__COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* A dictionary's spec name, for messages. */
const char *seed_dict_name(int kind)
{
    return kind >= 0 && kind < SEED_DICT__COUNT ? names[kind] : "?";
}

/* Every spec name, for "unknown dictionary" messages. */
const char *seed_dict_names(void)
{
    return "company, name, first_name, last_name, city, street, product";
}

static sf_dict_kind shared_kind(int kind)
{
    switch (kind) {
    case SEED_DICT_COMPANY: return SF_DICT_COMPANY;
    case SEED_DICT_FIRST_NAME: return SF_DICT_FIRST_NAME;
    case SEED_DICT_LAST_NAME: return SF_DICT_LAST_NAME;
    case SEED_DICT_CITY: return SF_DICT_CITY;
    default: return SF_DICT_STREET;
    }
}

/* Distinct values of a dictionary: list length, or the product of a composite's lists. */
uint64_t seed_dict_size(int kind)
{
    switch (kind) {
    case SEED_DICT_NAME:
        return (uint64_t)sf_dict_size(SF_DICT_FIRST_NAME) * sf_dict_size(SF_DICT_LAST_NAME);
    case SEED_DICT_PRODUCT:
        return N(adjectives) * N(materials) * N(nouns);
    default:
        return sf_dict_size(shared_kind(kind));
    }
}

static int add_entry(sf_buf *out, sf_dict_kind kind, uint64_t i)
{
    const char *v = sf_dict_get(kind, (size_t)i);
    return sf_buf_adds(out, v ? v : "");
}

/* Value i in mixed radix: the last list varies fastest. */
int seed_dict_get(sf_buf *out, int kind, uint64_t i)
{
    switch (kind) {
    case SEED_DICT_NAME: {
        uint64_t nl = sf_dict_size(SF_DICT_LAST_NAME);
        if (add_entry(out, SF_DICT_FIRST_NAME, i / nl) || sf_buf_addc(out, ' '))
            return SF_ENOMEM;
        return add_entry(out, SF_DICT_LAST_NAME, i % nl) ? SF_ENOMEM : 0;
    }
    case SEED_DICT_PRODUCT: {
        uint64_t n = i % N(nouns), m = (i / N(nouns)) % N(materials), a = i / (N(nouns) * N(materials));
        return sf_buf_addf(out, "%s %s %s", adjectives[a % N(adjectives)], materials[m], nouns[n]) ? SF_ENOMEM : 0;
    }
    default:
        return add_entry(out, shared_kind(kind), i) ? SF_ENOMEM : 0;
    }
}

static size_t list_max(sf_dict_kind kind)
{
    size_t m = 0, n = sf_dict_size(kind);
    for (size_t i = 0; i < n; i++) {
        const char *v = sf_dict_get(kind, i);
        size_t c = v ? seed_utf8_chars(v, strlen(v)) : 0;
        if (c > m)
            m = c;
    }
    return m;
}

static size_t array_max(const char *const *a, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = seed_utf8_chars(a[i], strlen(a[i]));
        if (c > m)
            m = c;
    }
    return m;
}

/* Longest value in characters, for length checks against varchar(n) (computed on each call). */
size_t seed_dict_max_chars(int kind)
{
    switch (kind) {
    case SEED_DICT_NAME:
        return list_max(SF_DICT_FIRST_NAME) + 1 + list_max(SF_DICT_LAST_NAME);
    case SEED_DICT_PRODUCT:
        return array_max(adjectives, N(adjectives)) + 1 + array_max(materials, N(materials)) + 1 +
               array_max(nouns, N(nouns));
    default:
        return list_max(shared_kind(kind));
    }
}
